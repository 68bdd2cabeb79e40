"""Secrets are never printed: runs at -vvv with --diff, each with secrets
of its own, and every line of their output searched for them.

- site.yml: a changed environment (app_secret_key and an app_env value)
  and a changed basic auth password (pydeploy_basic_auth, hashed on the
  host);
- deploy.yml (the app role, as in site.yml, without the other roles): a
  release that fails its trial, and one whose migration fails, both with
  the new environment (the failure messages quote their logs);
- site.yml: a pip index URL with credentials (the input checks' labels,
  pip.conf's diff, pip's own errors);
- deploy.yml: a git source whose URL holds a token (the fetch fails: its
  message).

The module's last step puts the host back (conftest.put_back).
"""

import json
import uuid

import pytest
from conftest import make_version, run_playbook

pytestmark = pytest.mark.usefixtures("put_back")


def secrets():
    tag = uuid.uuid4().hex
    return {
        "app_secret_key": f"sk{tag}{tag}",
        "app_env": f"env{tag}",
        "index": f"idx{tag}",
        "git": f"git{tag}",
        "basic_auth": f"ba{tag}",
    }


def env_vars(secret):
    return {
        "app_secret_key": secret["app_secret_key"],
        "app_env": {"APP_VERSION": "1.0.0-demo", "TRUSTED_PROXY_HOPS": "1", "API_TOKEN": secret["app_env"]},
        "pydeploy_basic_auth": {"realm": "hello admin", "locations": ["/admin/"],
                                "users": [{"name": "admin", "password": secret["basic_auth"]}]},
    }


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    """(case, exit code, output, the secrets in play), one per run."""
    base = tmp_path_factory.mktemp("secrets")
    runs = []

    secret = secrets()
    rc, out = run_playbook("site.yml", "-vvv", "--diff", "-e", json.dumps(env_vars(secret)))
    runs.append(("changed environment", rc, out, secret))

    secret = secrets()
    extra = env_vars(secret) | {"app_src": str(make_version(base, "9.9.1", broken=True))}
    rc, out = run_playbook("deploy.yml", "-vvv", "--diff", "-e", json.dumps(extra))
    runs.append(("failing trial", rc, out, secret))

    secret = secrets()
    # The play quotes the log of a failed migration, and runs it with the
    # environment file: neither may show what the file holds.
    extra = env_vars(secret) | {
        "app_src": str(make_version(base, "9.9.2")),
        "app_migrate_command": "echo migrating; exit 3",
    }
    rc, out = run_playbook("deploy.yml", "-vvv", "--diff", "-e", json.dumps(extra))
    runs.append(("failing migration", rc, out, secret))

    secret = secrets()
    extra = env_vars(secret) | {
        "app_src": str(make_version(base, "9.9.3")),
        # Nobody listens there: pip fails, and says where it tried.
        "python_pip_index_url": f"https://pydeploy:{secret['index']}@127.0.0.1:9/simple/",
    }
    rc, out = run_playbook("site.yml", "-vvv", "--diff", "-e", json.dumps(extra))
    runs.append(("pip index with credentials", rc, out, secret))

    secret = secrets()
    extra = env_vars(secret) | {
        "app_source": "git",
        "app_git_repo": f"https://oauth2:{secret['git']}@127.0.0.1:9/hello.git",
    }
    rc, out = run_playbook("deploy.yml", "-vvv", "--diff", "-e", json.dumps(extra))
    runs.append(("git URL with a token", rc, out, secret))
    return runs


def test_the_runs_went_as_meant(matrix):
    # Each run got as far as it should: a matrix of runs that stopped at
    # once would prove nothing.
    expected = {
        "changed environment": "changed=",
        "failing trial": "failed its trial before the switch",
        "failing migration": "The migration (app_migrate_command) failed",
        "pip index with credentials": "Install the requirements as the app user",
        "git URL with a token": "Fetching app_git_repo https://***@127.0.0.1:9/hello.git at HEAD failed",
    }
    for case, rc, out, _ in matrix:
        assert (rc == 0) == (case == "changed environment"), (case, out[-3000:])
        assert expected[case] in out, (case, out[-3000:])
    # The first run wrote the new basic auth password (a task that changed,
    # its output censored).
    out = matrix[0][2]
    written = out.split("TASK [pydeploy.wsgi.nginx : Write the site's basic auth users, each password hashed on the host]", 1)[1]
    assert written.split("TASK [", 1)[0].count("changed: [pydeploy-default]") == 1, written[:1500]
    # The pip index case failing shows that pip, as the app user, read the
    # index from pip.conf (0640, its group given to the build): a pip that
    # cannot read the file ignores it and installs from PyPI.


def test_no_secret_is_printed(matrix):
    hits = []
    for case, _, out, secret in matrix:
        lines = out.splitlines()
        for name, value in secret.items():
            hits += [(case, name, line[:200]) for line in lines if value in line]
    assert hits == []
