"""Renewal on the host, between runs (the tls role's pydeploy-tls-renew
timer and service, certbot against pebble): a certificate due is replaced
while a stream of requests sees no failure; a renewal whose challenge cannot
be reached (a name added that no DNS resolves) leaves the old certificate
serving and alerts; one whose check fails puts the previous certificate
back, and the next run installs the certificate obtained. The tests make a certificate due through the site's
renewal configuration (renew_days), as an operator's would read, and start
the timer's service themselves. (Before test_readme_steps.py, which deploys
the web host again with the README's inventory: no alert channels.)"""

import contextlib
import json
import re

from conftest import RequestStream, name_of, retried
from test_acme import Web
from test_alerts import by_channel, monitor, notices, wait_for_notices

testinfra_hosts = ["ansible://pydeploy-acme-web", "ansible://pydeploy-acme-apache"]

SERVICE = "pydeploy-tls-renew.service"
SUBJECT = f"unit:{SERVICE}"


@contextlib.contextmanager
def site_config(host, name, change):
    """The site's renewal configuration changed by change(config) for the test, then put back."""
    path = f"/etc/pydeploy/tls/{name}.json"
    original = host.file(path).content_string
    config = json.loads(original)
    change(config)
    host.check_output(f"cat > {path} <<'EOF'\n{json.dumps(config)}\nEOF")
    try:
        yield
    finally:
        host.check_output(f"cat > {path} <<'EOF'\n{original}EOF")


def due(config):
    config["renew_days"] = 3650


def serials(web):
    return (web.host.check_output(f"openssl x509 -in {web.cert} -noout -serial"),
            web.served("| openssl x509 -noout -serial"))


def renew(host):
    return host.run(f"systemctl start {SERVICE}")


def journal(host):
    return host.check_output(f"journalctl -u {SERVICE} --no-pager -o cat -n 40")


def test_the_timer_renews_and_certbots_own_is_off(host):
    timer = host.check_output("systemctl show -p ActiveState,UnitFileState pydeploy-tls-renew.timer")
    assert "ActiveState=active" in timer and "UnitFileState=enabled" in timer
    assert host.run("systemctl is-enabled certbot.timer").stdout.strip() == "disabled"
    # Not due: nothing to do.
    assert renew(host).rc == 0
    assert re.search(r"not due \(\d+ days left; renewed 30 days before expiry\)", journal(host))


def test_a_due_certificate_is_replaced_on_the_host_while_requests_go_on(host, capsys):
    web = Web(host)
    before = serials(web)
    master = host.check_output(f"cat {web.pid_file}")
    stream = RequestStream(host, url=f"https://{web.name}/whoami", curl_args=("--resolve", f"{web.name}:443:127.0.0.1"))
    with site_config(host, web.name, due), stream:
        result = renew(host)
    assert result.rc == 0, journal(host)
    answers = stream.answers()
    failed = [line for line in answers if not line.endswith(" 200")]
    with capsys.disabled():
        print(f"\n  renewal on {name_of(host)}: {len(answers)} requests, {len(failed)} failed, {retried(answers)} sent again after a GOAWAY")
    assert answers and failed == [], failed
    after = serials(web)
    assert after[0] != before[0] and after[1] == after[0]
    # Reloaded, not restarted.
    assert host.check_output(f"cat {web.pid_file}") == master
    assert f"{web.name}: installed a new certificate" in journal(host)


def test_a_renewal_that_cannot_be_validated_keeps_the_old_certificate_and_alerts(host):
    web = Web(host)
    before = serials(web)
    problems = len([n for n in notices(name_of(host), SUBJECT) if n["state"] == "problem"])

    def unreachable(config):
        # A name no DNS resolves: its challenge cannot be reached, and no
        # earlier authorization of the account covers it.
        config["names"] = config["names"] + ["unreachable.pydeploy.test"]

    with site_config(host, web.name, unreachable):
        assert renew(host).rc != 0
    assert serials(web) == before
    assert "certbot (the ACME order of" in journal(host)
    problem = wait_for_notices(name_of(host), SUBJECT, "problem", count=problems + 2)[problems:]
    assert by_channel(problem) == ["hook", "mail"], problem
    assert f"{SERVICE} failed (exit-code)" in problem[0]["title"]
    assert "certbot" in problem[0]["text"]
    # Not due any more: the next run goes well, and the incident closes.
    assert renew(host).rc == 0
    recoveries = len([n for n in notices(name_of(host), SUBJECT) if n["state"] == "recovery"])
    monitor(host)
    assert by_channel(wait_for_notices(name_of(host), SUBJECT, "recovery", count=recoveries + 2)[recoveries:]) == ["hook", "mail"]


def test_a_renewal_whose_check_fails_puts_the_previous_certificate_back(host):
    web = Web(host)
    before = serials(web)
    files = {path: host.check_output(f"sha256sum {path}") for path in (web.cert, f"/etc/ssl/pydeploy/private/{web.name}.key")}

    def broken_front_end(config):
        due(config)
        config["front_end"]["test"] = ["/bin/sh", "-c", "echo the configuration test fails >&2; exit 1"]

    with site_config(host, web.name, broken_front_end):
        assert renew(host).rc != 0
    assert "the previous certificate and key are back in place" in journal(host)
    assert {path: host.check_output(f"sha256sum {path}") for path in files} == files
    assert serials(web) == before
    # The certificate certbot obtained is newer than the one served: the
    # next run installs it, without a new order.
    assert renew(host).rc == 0, journal(host)
    assert "installing the certificate certbot obtained earlier" in journal(host)
    after = serials(web)
    assert after[0] != before[0] and after[1] == after[0]
    monitor(host)
