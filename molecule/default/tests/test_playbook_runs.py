"""Runs of playbooks/site.yml against the converged host.

- A check run (--check --diff) finds nothing to change.
- Bad input fails at argument validation, naming the variable, before any
  task changes the host; the app keeps serving.
- tls_mode files refuses a key that is not the certificate's, an expired
  certificate and one that does not cover the server names, before any
  change: Nginx keeps presenting the certificate it had.

The runs are independent, so they go side by side.
"""

import re

import pytest
from conftest import changed_count, make_certificate, run_playbook, run_side_by_side

BAD_INPUT = [
    ("nginx_https_port=fourfourthree", "nginx_https_port"),
    ("gunicorn_worker_class=turbo", "gunicorn_worker_class"),
    ("gunicorn_workers=many", "gunicorn_workers"),
    ("gunicorn_wsgi_app=not-an-entry-point", "gunicorn_wsgi_app"),
    ('{"app_env": {"BAD NAME": "x"}}', "app_env"),
    ('{"nginx_static_locations": [{"location": "/static", "path": "x/"}]}', "nginx_static_locations"),
    ("tls_key_type=DSA", "tls_key_type"),
    ("pydeploy_app_name=Bad/Name", "pydeploy_app_name"),
    ("nginx_tls_profile=old", "nginx_tls_profile"),
    ("nginx_rate_limit_rate=fast", "nginx_rate_limit_rate"),
    ('{"gunicorn_sandbox_overrides": {"no such directive": true}}', "gunicorn_sandbox_overrides"),
    ("tls_mode=acme", "tls_acme_terms_agreed"),
]


NAMES = ["localhost", "127.0.0.1"]
# (case, what the failure names)
BAD_FILES = [
    ("key of another certificate", "is not the key of the certificate tls_cert_src"),
    ("expired", "expired on"),
    ("other names", "does not cover localhost, 127.0.0.1"),
]


def files_mode(cert, key):
    return ["-e", "tls_mode=files", "-e", f"tls_cert_src={cert}", "-e", f"tls_key_src={key}"]


def served_fingerprint(host):
    return host.check_output(
        "echo | openssl s_client -connect localhost:443 -servername localhost 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
    )


@pytest.fixture(scope="module")
def before(host):
    return served_fingerprint(host)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, before):
    certs = tmp_path_factory.mktemp("certs")
    good_cert, _, _ = make_certificate(certs, NAMES)
    _, other_key, _ = make_certificate(certs, NAMES)
    expired_cert, expired_key, _ = make_certificate(certs, NAMES, days=-1, not_before_days=-30)
    other_cert, other_names_key, _ = make_certificate(certs, ["example.org", "www.example.org"])
    jobs = {"check": ("site.yml", ["--check", "--diff"])}
    jobs.update({extra: ("site.yml", ["-e", extra]) for extra, _ in BAD_INPUT})
    jobs["key of another certificate"] = ("site.yml", files_mode(good_cert, other_key))
    jobs["expired"] = ("site.yml", files_mode(expired_cert, expired_key))
    jobs["other names"] = ("site.yml", files_mode(other_cert, other_names_key))
    return run_side_by_side(jobs)


def test_check_mode_on_a_converged_host_changes_nothing(runs):
    rc, out = runs["check"]
    assert rc == 0, out[-3000:]
    assert changed_count(out) == 0, out[-3000:]
    # --diff printed no difference either.
    assert not re.search(r"^[-+]{3} (before|after)", out, re.M), out[-3000:]


@pytest.mark.parametrize(("extra", "named"), BAD_INPUT, ids=[named for _, named in BAD_INPUT])
def test_bad_variable_fails_before_any_change(runs, extra, named):
    rc, out = runs[extra]
    assert rc != 0, out[-2000:]
    failure = out[out.find("[ERROR]") :] if "[ERROR]" in out else out[out.find("fatal:") :]
    assert named in failure, out[-2000:]
    assert changed_count(out) == 0, out[-2000:]
    # It stopped while checking input: no task of a role ran.
    assert "TASK [pydeploy.wsgi.python : Install Python" not in out


@pytest.mark.parametrize(("case", "message"), BAD_FILES, ids=[case for case, _ in BAD_FILES])
def test_files_mode_refuses_a_certificate_that_does_not_fit(runs, case, message):
    rc, out = runs[case]
    assert rc != 0, out[-2000:]
    assert message in out, out[-2000:]
    assert changed_count(out) == 0, out[-2000:]
    assert "TASK [pydeploy.wsgi.python : Install Python" not in out


def test_app_still_serves_after_the_failed_runs(runs, http, host, before):
    assert len(runs) == len(BAD_INPUT) + len(BAD_FILES) + 1
    assert http.json("https://localhost/health") == {"status": "healthy"}
    # Nginx still presents the certificate it had.
    assert served_fingerprint(host) == before


def test_value_nginx_refuses_leaves_the_running_config(runs, host, http):
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
