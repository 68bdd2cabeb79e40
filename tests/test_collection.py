"""The collection as users get it: the tarball `ansible-galaxy collection
build` makes holds only what they run and read, and, installed offline into
a fresh path, its playbooks load from a project outside this checkout."""

import os
import pathlib
import re
import subprocess
import tarfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# What the tarball may hold, by path.
ALLOWED = re.compile(
    r"^(MANIFEST\.json|FILES\.json|README\.md|LICENSE|requirements\.yml"
    r"|meta/|roles/|playbooks/|plugins/|docs/|examples/|inventories/(staging|production)/"
    r"|changelogs/(changelog|config)\.yaml)"
)
REQUIRED = ["LICENSE", "README.md", "playbooks/site.yml", "roles/app/tasks/main.yml", "plugins/modules/health_check.py"]
FORBIDDEN = re.compile(r"vault-password|(^|/)ansible\.cfg$|^\.|/\.|__pycache__|\.pyc$|^molecule/|^tests/|^scripts/")


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    result = subprocess.run(
        ["ansible-galaxy", "collection", "build", "--output-path", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = out.glob("pydeploy-wsgi-*.tar.gz")
    return path


def test_tarball_holds_only_what_users_need(tarball):
    with tarfile.open(tarball) as archive:
        names = [member.name for member in archive.getmembers() if member.isfile()]
    assert [name for name in names if not ALLOWED.match(name)] == []
    assert [name for name in names if FORBIDDEN.search(name)] == []
    assert [name for name in REQUIRED if name not in names] == []


def test_installed_tarball_runs_from_a_project_outside_the_checkout(tarball, tmp_path):
    collections = tmp_path / "collections"
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR="1")
    install = subprocess.run(
        ["ansible-galaxy", "collection", "install", "--offline", "--no-deps", "-p", str(collections), str(tarball)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300, check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    project = tmp_path / "project"
    (project / "group_vars").mkdir(parents=True)
    (project / "hosts.yml").write_text("all:\n  children:\n    web:\n      hosts:\n        app1.example.org:\n")
    (project / "group_vars" / "web.yml").write_text(
        "pydeploy_app_name: shop\npydeploy_server_names: [shop.example.org]\napp_src: /srv/src/shop\n"
    )
    for playbook in ("site", "deploy", "rollback"):
        for mode in ("--syntax-check", "--list-tasks"):
            run = subprocess.run(
                ["ansible-playbook", "-i", "hosts.yml", f"pydeploy.wsgi.{playbook}", mode],
                capture_output=True, text=True, cwd=project, env=env, timeout=300, check=False,
            )
            assert run.returncode == 0, (playbook, mode, run.stdout[-3000:] + run.stderr[-3000:])
            assert str(ROOT) not in run.stdout + run.stderr, "loaded from the checkout"
            if mode == "--list-tasks":
                assert "Take or release the lock of the app on the host" in run.stdout, run.stdout[-3000:]
                assert "pydeploy.wsgi.app :" in run.stdout or playbook == "rollback", run.stdout[-3000:]
