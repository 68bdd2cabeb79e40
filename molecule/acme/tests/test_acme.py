"""tls_mode acme against pebble: a first run without a certificate obtains
one over HTTP-01, the front end presents it, and a renewal reloads it; on a
host behind Nginx and on one behind Apache (with mod_wsgi)."""

import re

import pytest
from conftest import changed_tasks, hosts_named, run_playbook

testinfra_hosts = ["ansible://pydeploy-acme-web", "ansible://pydeploy-acme-apache"]


class Web:
    """The host's name, front end and where that front end keeps its state."""

    def __init__(self, host):
        self.host = host
        self.hostname = host.backend.get_hostname()
        self.front_end = "apache" if self.hostname == "pydeploy-acme-apache" else "nginx"
        self.name = {"nginx": "www.pydeploy.test", "apache": "apache.pydeploy.test"}[self.front_end]
        self.cert = f"/etc/ssl/pydeploy/{self.name}.crt"
        self.pid_file = {"nginx": "/run/nginx.pid", "apache": "/run/apache2/apache2.pid"}[self.front_end]

    def served(self, *args):
        return self.host.check_output(
            f"echo | openssl s_client -connect 127.0.0.1:443 -servername {self.name} -showcerts 2>/dev/null {' '.join(args)}"
        )


@pytest.fixture
def web(host):
    return Web(host)


def pebble_root(host):
    """pebble's issuing root, from its management interface (a new one each start)."""
    host.check_output("curl -sf --max-time 10 https://ca.pydeploy.test:15000/roots/0 -o /tmp/pebble-root.pem")
    return "/tmp/pebble-root.pem"


def test_front_end_presents_the_certificate_pebble_issued(host, web):
    chain = web.served()
    assert re.search(r"i:.*CN ?= ?Pebble Intermediate CA", chain), chain[:2000]
    assert re.search(rf"s:.*CN ?= ?{re.escape(web.name)}", chain)
    # A client that trusts pebble's root (and nothing else) accepts it: the
    # chain is complete and the name matches.
    root = pebble_root(host)
    out = host.check_output(
        f"curl -s --max-time 10 --cacert {root} --resolve {web.name}:443:127.0.0.1 https://{web.name}/health"
    )
    assert out.strip() == '{"status":"healthy"}'


def test_ocsp_stapling_is_on_for_a_cas_certificate(host, web):
    if web.front_end == "apache":
        conf = host.file("/etc/apache2/conf-enabled/pydeploy.conf").content_string
        assert "SSLUseStapling on" in conf
        assert "SSLStaplingCache" in conf
        return
    # Nginx needs to resolve the responder: the site names the nameservers of
    # the host's resolv.conf (from the host's dns facts).
    site = host.file("/etc/nginx/sites-available/hello.conf").content_string
    assert "ssl_stapling on;" in site
    nameservers = re.findall(r"^nameserver\s+(\S+)", host.file("/etc/resolv.conf").content_string, re.M)
    assert nameservers
    assert re.search(rf"^\s*resolver {re.escape(' '.join(nameservers))} valid=300s;", site, re.M), site


def test_keys_are_root_only_and_challenges_are_cleaned_up(host, web):
    key = host.file(f"/etc/ssl/pydeploy/private/{web.name}.key")
    assert (key.user, key.mode) == ("root", 0o600)
    # certbot's account and lineage (its keys among them): root's alone.
    for folder in ("/etc/letsencrypt/accounts", "/etc/letsencrypt/archive"):
        f = host.file(folder)
        assert (f.user, f.mode) == ("root", 0o700), folder
    assert host.check_output("ls -A /var/lib/pydeploy/acme/.well-known/acme-challenge") == ""


def test_port_80_serves_challenges_and_redirects_the_rest(host, web):
    base = f"--resolve {web.name}:80:127.0.0.1 http://{web.name}"
    missing = host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' {base}/.well-known/acme-challenge/none")
    assert missing == "404"
    assert host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' {base}/page") == "301"


@pytest.fixture(scope="module")
def renewal():
    """Both hosts renewed in one run, then an ordinary re-run: each host's
    serial and front-end master PID before and after, and the two outputs."""
    webs = [Web(one) for one in hosts_named(module_host_names()).values()]
    serial = {web.hostname: web.host.check_output(f"openssl x509 -in {web.cert} -noout -serial") for web in webs}
    master = {web.hostname: web.host.check_output(f"cat {web.pid_file}") for web in webs}
    # Renew now: ask for more remaining days than the certificates have.
    renewed = run_playbook("site.yml", "-e", "tls_renew_days=3650")
    after = {web.hostname: web.host.check_output(f"openssl x509 -in {web.cert} -noout -serial") for web in webs}
    served = {web.hostname: web.served("| openssl x509 -noout -serial") for web in webs}
    master_after = {web.hostname: web.host.check_output(f"cat {web.pid_file}") for web in webs}
    # An ordinary re-run puts tls_renew_days back in the renewal's
    # configuration and renews nothing: the certificates are far from expiry.
    rerun = run_playbook("site.yml")
    return {"serial": serial, "after": after, "served": served, "master": master,
            "master_after": master_after, "renewed": renewed, "rerun": rerun}


def module_host_names():
    return [name.split("://", 1)[1] for name in testinfra_hosts]


def test_renewal_replaces_the_certificate_and_reloads_the_front_end(web, renewal):
    rc, out = renewal["renewed"]
    assert rc == 0, out[-3000:]
    # The alerts' webhook URL holds its token: never shown.
    assert "t0ken" not in out and "t0ken" not in renewal["rerun"][1]
    # The renewal's script obtained, installed and checked it, and reloaded the front end.
    said = " ".join(out.split())
    assert re.search(rf"{re.escape(web.name)}: installed a new certificate .* and reloaded {web.front_end}", said.replace("apache2", "apache")), out[-3000:]
    before, after = renewal["serial"][web.hostname], renewal["after"][web.hostname]
    assert after != before
    served = renewal["served"][web.hostname]
    assert before.split("=")[1] not in served
    assert after in served
    # Reloaded, not restarted.
    assert renewal["master_after"][web.hostname] == renewal["master"][web.hostname]
    rc, out = renewal["rerun"]
    assert rc == 0, out[-3000:]
    mine = [task for task in changed_tasks(out) if task.endswith(f": {web.hostname}")]
    assert mine == [f"pydeploy.wsgi.tls : Write the site's renewal configuration: {web.hostname}"], out[-3000:]
