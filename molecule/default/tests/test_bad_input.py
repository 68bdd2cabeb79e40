"""Bad input fails at argument validation, naming the variable, before any change."""

import os
import re
import subprocess

import pytest

ROOT = os.environ["MOLECULE_PROJECT_DIRECTORY"]


def run_site(*extra_vars):
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], f"{ROOT}/playbooks/site.yml"]
    for extra in extra_vars:
        cmd += ["-e", extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("nginx_https_port=fourfourthree", "nginx_https_port"),
        ("gunicorn_worker_class=turbo", "gunicorn_worker_class"),
        ("gunicorn_workers=many", "gunicorn_workers"),
        ("gunicorn_wsgi_app=not-an-entry-point", "gunicorn_wsgi_app"),
        ('{"app_env": {"BAD NAME": "x"}}', "app_env"),
        ("pydeploy_app_name=Bad/Name", "pydeploy_app_name"),
    ],
)
def test_bad_variable_fails_before_any_change(extra, named):
    result = run_site(extra)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-2000:]
    assert named in out, out[-2000:]
    recap = re.search(r"changed=(\d+)", out)
    assert recap and recap.group(1) == "0", out[-2000:]
    # Nothing ran past the checks: no task of a role changed or even started.
    assert "TASK [pydeploy.wsgi.python : Install Python" not in out
