"""tls_mode acme against pebble: a first run without a certificate obtains
one over HTTP-01, Nginx presents it, and a renewal reloads Nginx."""

import re

from conftest import changed_count, run_playbook

testinfra_hosts = ["ansible://pydeploy-acme-web"]

NAME = "www.pydeploy.test"
CERT = f"/etc/ssl/pydeploy/{NAME}.crt"


def served(host, *args):
    return host.check_output(
        f"echo | openssl s_client -connect 127.0.0.1:443 -servername {NAME} -showcerts 2>/dev/null {' '.join(args)}"
    )


def pebble_root(host):
    """pebble's issuing root, from its management interface (a new one each start)."""
    host.check_output("curl -sf --max-time 10 https://ca.pydeploy.test:15000/roots/0 -o /tmp/pebble-root.pem")
    return "/tmp/pebble-root.pem"


def test_nginx_presents_the_certificate_pebble_issued(host):
    chain = served(host)
    assert re.search(r"i:.*CN ?= ?Pebble Intermediate CA", chain), chain[:2000]
    assert re.search(rf"s:.*CN ?= ?{re.escape(NAME)}", chain)
    # A client that trusts pebble's root (and nothing else) accepts it: the
    # chain is complete and the name matches.
    root = pebble_root(host)
    out = host.check_output(
        f"curl -s --max-time 10 --cacert {root} --resolve {NAME}:443:127.0.0.1 https://{NAME}/health"
    )
    assert out.strip() == '{"status":"healthy"}'


def test_ocsp_stapling_has_the_hosts_resolvers(host):
    # A CA's certificate gets OCSP stapling, which needs Nginx to resolve the
    # responder: the site names the nameservers of the host's resolv.conf
    # (from the host's dns facts).
    site = host.file("/etc/nginx/sites-available/hello.conf").content_string
    assert "ssl_stapling on;" in site
    nameservers = re.findall(r"^nameserver\s+(\S+)", host.file("/etc/resolv.conf").content_string, re.M)
    assert nameservers
    assert re.search(rf"^\s*resolver {re.escape(' '.join(nameservers))} valid=300s;", site, re.M), site


def test_keys_are_root_only_and_challenges_are_cleaned_up(host):
    for key in (f"/etc/ssl/pydeploy/private/{NAME}.key", "/etc/ssl/pydeploy/private/acme-account.key"):
        f = host.file(key)
        assert (f.user, f.mode) == ("root", 0o600), key
    assert host.check_output("ls -A /var/lib/pydeploy/acme/.well-known/acme-challenge") == ""


def test_port_80_serves_challenges_and_redirects_the_rest(host):
    base = f"--resolve {NAME}:80:127.0.0.1 http://{NAME}"
    missing = host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' {base}/.well-known/acme-challenge/none")
    assert missing == "404"
    assert host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' {base}/page") == "301"


def test_renewal_replaces_the_certificate_and_reloads_nginx(host):
    before = host.check_output(f"openssl x509 -in {CERT} -noout -serial")
    nginx_master = host.check_output("cat /run/nginx.pid")
    # Renew now: ask for more remaining days than the certificate has.
    rc, out = run_playbook("site.yml", "--limit", "web", "-e", "tls_renew_days=3650")
    assert rc == 0, out[-3000:]
    assert re.search(r"RUNNING HANDLER \[[^]]*Reload Nginx\]", out)
    after = host.check_output(f"openssl x509 -in {CERT} -noout -serial")
    assert after != before
    assert before.split("=")[1] not in served(host, "| openssl x509 -noout -serial")
    assert after in served(host, "| openssl x509 -noout -serial")
    # Reloaded, not restarted.
    assert host.check_output("cat /run/nginx.pid") == nginx_master
    # An ordinary re-run changes nothing: the certificate is far from expiry.
    rc, out = run_playbook("site.yml", "--limit", "web")
    assert rc == 0, out[-3000:]
    assert changed_count(out) == 0, out[-3000:]
