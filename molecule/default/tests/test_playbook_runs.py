"""Runs of playbooks/site.yml against the converged host.

- A check run (--check --diff) finds nothing to change.
- Bad input fails at argument validation, naming the variable, before any
  task changes the host; the app keeps serving.

The runs are independent, so they go side by side.
"""

import re

import pytest
from conftest import changed_count, run_side_by_side

BAD_INPUT = [
    ("nginx_https_port=fourfourthree", "nginx_https_port"),
    ("gunicorn_worker_class=turbo", "gunicorn_worker_class"),
    ("gunicorn_workers=many", "gunicorn_workers"),
    ("gunicorn_wsgi_app=not-an-entry-point", "gunicorn_wsgi_app"),
    ('{"app_env": {"BAD NAME": "x"}}', "app_env"),
    ('{"nginx_static_locations": [{"location": "/static", "path": "x/"}]}', "nginx_static_locations"),
    ("tls_key_type=DSA", "tls_key_type"),
    ("pydeploy_app_name=Bad/Name", "pydeploy_app_name"),
]


@pytest.fixture(scope="module")
def runs():
    jobs = {"check": ("site.yml", ["--check", "--diff"])}
    jobs.update({extra: ("site.yml", ["-e", extra]) for extra, _ in BAD_INPUT})
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


def test_app_still_serves_after_the_failed_runs(runs, http):
    assert len(runs) == len(BAD_INPUT) + 1
    assert http.json("https://localhost/health") == {"status": "healthy"}
