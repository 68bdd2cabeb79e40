"""Runs of playbooks/site.yml against the converged host.

- A check run (--check --diff) finds nothing to change.
- A value that passes the role's checks but not nginx -t leaves the running
  config, and the app keeps serving with the certificate it had.

Bad input (a variable of the wrong type or value, certificates that do not
fit tls_mode files) fails before the play touches any host: those cases run
on the controller, in tests/test_bad_input.py.
"""

import re

import pytest
from conftest import changed_count, run_playbook


def served_fingerprint(host):
    return host.check_output(
        "echo | openssl s_client -connect localhost:443 -servername localhost 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
    )


@pytest.fixture(scope="module")
def before(host):
    return served_fingerprint(host)


def test_check_mode_on_a_converged_host_changes_nothing(before):
    rc, out = run_playbook("site.yml", "--check", "--diff")
    assert rc == 0, out[-3000:]
    assert changed_count(out) == 0, out[-3000:]
    # --diff printed no difference either.
    assert not re.search(r"^[-+]{3} (before|after)", out, re.M), out[-3000:]


def test_value_nginx_refuses_leaves_the_running_config(host, http):
    # Passes the role's checks, fails nginx -t: the site file is put back,
    # Nginx is never reloaded with it, and the play says why.
    site = "/etc/nginx/sites-available/hello.conf"
    before = host.file(site).content_string
    nginx_master = host.check_output("cat /run/nginx.pid")
    rc, out = run_playbook("site.yml", "-e", "nginx_proxy_read_timeout=soon")
    assert rc != 0
    assert "The Nginx site hello failed nginx -t" in out, out[-2000:]
    # Nginx's complaint names the directive (nginx_proxy_read_timeout's).
    assert '"proxy_read_timeout" directive invalid value' in out, out[-2000:]
    assert host.file(site).content_string == before
    assert host.run("nginx -t").rc == 0
    assert host.check_output("cat /run/nginx.pid") == nginx_master
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_app_still_serves_after_the_failed_run(http, host, before):
    assert http.json("https://localhost/health") == {"status": "healthy"}
    # Nginx still presents the certificate it had.
    assert served_fingerprint(host) == before
