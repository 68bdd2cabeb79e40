"""Runs of playbooks/site.yml against the converged host.

- A check run (--check --diff) finds nothing to change.
- Bad input fails at argument validation, naming the variable, before any
  task changes the host; the app keeps serving.

The runs are independent, so they go side by side in one pool.
"""

import concurrent.futures
import os
import re
import subprocess

import pytest

ROOT = os.environ["MOLECULE_PROJECT_DIRECTORY"]

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


def run_site(*args):
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], f"{ROOT}/playbooks/site.yml", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def runs():
    jobs = {"check": ["--check", "--diff"]}
    jobs.update({extra: ["-e", extra] for extra, _ in BAD_INPUT})
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run_site, *args) for name, args in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def recap_changed(out):
    counts = re.findall(r"changed=(\d+)", out)
    assert counts, out[-2000:]
    return sum(int(c) for c in counts)


def test_check_mode_on_a_converged_host_changes_nothing(runs):
    rc, out = runs["check"]
    assert rc == 0, out[-3000:]
    assert recap_changed(out) == 0, out[-3000:]
    # --diff printed no difference either.
    assert not re.search(r"^[-+]{3} (before|after)", out, re.M), out[-3000:]


@pytest.mark.parametrize(("extra", "named"), BAD_INPUT, ids=[named for _, named in BAD_INPUT])
def test_bad_variable_fails_before_any_change(runs, extra, named):
    rc, out = runs[extra]
    assert rc != 0, out[-2000:]
    failure = out[out.find("fatal:") if "fatal:" in out else out.find("[ERROR]") :]
    assert named in failure, out[-2000:]
    assert recap_changed(out) == 0, out[-2000:]
    # It stopped while checking input: no task of a role ran.
    assert "TASK [pydeploy.wsgi.python : Install Python" not in out


def test_app_still_serves_after_the_failed_runs(runs, host):
    assert len(runs) == len(BAD_INPUT) + 1
    out = host.check_output("curl -sk --max-time 10 https://localhost/health")
    assert '"status":"healthy"' in out.replace(" ", "")
