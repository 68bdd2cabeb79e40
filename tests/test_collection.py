"""The collection as users get it: the tarball `ansible-galaxy collection
build` makes holds only what they run and read, Galaxy's importer accepts it,
and, installed offline into a fresh path, its playbooks load from a project
outside this checkout."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
# What the tarball may hold, by path.
ALLOWED = re.compile(
    r"^(MANIFEST\.json|FILES\.json|README\.md|LICENSE|CHANGELOG\.rst|CONTRIBUTING\.md|CODE_OF_CONDUCT\.md|requirements\.yml"
    r"|meta/|roles/|playbooks/|plugins/|docs/|examples/|inventories/(staging|production)/"
    r"|changelogs/(changelog|config)\.yaml|tests/sanity/ignore-[0-9.]+\.txt$)"
)
REQUIRED = ["LICENSE", "README.md", "CHANGELOG.rst", "CONTRIBUTING.md", "CODE_OF_CONDUCT.md", "playbooks/site.yml", "roles/app/tasks/main.yml", "plugins/modules/health_check.py"]
FORBIDDEN = re.compile(r"vault-password|(^|/)ansible\.cfg$|^\.|/\.|__pycache__|\.pyc$|^molecule/|^tests/(?!sanity/)|^scripts/")


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
    playbooks = ("site", "deploy", "rollback")
    for mode in ("--syntax-check", "--list-tasks"):
        # The three playbooks in one run (Ansible loads each, in turn).
        run = subprocess.run(
            ["ansible-playbook", "-i", "hosts.yml", *[f"pydeploy.wsgi.{playbook}" for playbook in playbooks], mode],
            capture_output=True, text=True, cwd=project, env=env, timeout=300, check=False,
        )
        assert run.returncode == 0, (mode, run.stdout[-3000:] + run.stderr[-3000:])
        assert str(ROOT) not in run.stdout + run.stderr, "loaded from the checkout"
        parts = re.split(r"^playbook: ", run.stdout, flags=re.M)[1:]
        # Each named by its FQCN or its path in the installed collection.
        installed = collections / "ansible_collections" / "pydeploy" / "wsgi" / "playbooks"
        assert [part.split()[0] in (f"pydeploy.wsgi.{playbook}", str(installed / f"{playbook}.yml"))
                for playbook, part in zip(playbooks, parts)] == [True] * 3, run.stdout[-3000:]
        if mode == "--list-tasks":
            for playbook, part in zip(playbooks, parts):
                assert "Take or release the lock of the app on the host" in part, (playbook, part[-3000:])
                assert "pydeploy.wsgi.app :" in part or playbook == "rollback", (playbook, part[-3000:])


def test_galaxy_importer_accepts_the_tarball(tarball, tmp_path):
    # Galaxy's own checks, as on upload: metadata, docs of every plugin and
    # role (through ansible-doc), then its ansible-lint run (below). Its
    # ansible-test step runs in a container image from a registry;
    # scripts/test runs ansible-test sanity itself.
    config = tmp_path / "importer.cfg"
    config.write_text("[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = False\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(GALAXY_IMPORTER_CONFIG=str(config), ANSIBLE_NOCOLOR="1")
    run = subprocess.run(
        [sys.executable, "-m", "galaxy_importer.main", str(tarball)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600, check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "Importer processing completed successfully" in output, output[-3000:]
    complaints = [line for line in output.splitlines() if re.match(r"\s*(WARNING|ERROR)", line)]
    # The one warning allowed: that tests/sanity/ignore-*.txt exists (see
    # test_sanity_ignores_only_the_license_header).
    complaints = [line for line in complaints if not line.startswith("WARNING: Ignore files skip ansible-test sanity tests")]
    assert complaints == [], output[-3000:]
    result = json.loads((tmp_path / "importer_result.json").read_text())
    found = {(item["content_type"], item["content_name"]): item for item in result["docs_blob"]["contents"]}
    roles = sorted(path.name for path in (ROOT / "roles").iterdir() if (path / "meta").is_dir())
    modules = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py"))
    for role in roles:
        assert found[("role", role)]["readme_html"], f"no README for role {role}"
    for module in modules:
        assert found[("module", module)]["doc_strings"], f"no docs for module {module}"
    assert found[("filter", "redact_url")]["doc_strings"]
    # The importer's ansible-lint run (galaxy_importer/loaders/collection.py,
    # _lint_collection: this command, from the collection as installed), here
    # without the importer's fixed 180-second limit, which a machine busy
    # with the scenarios beside this test exceeded; each line it prints is a
    # warning on Galaxy.
    collections = tmp_path / "collections"
    with tarfile.open(tarball) as archive:
        archive.extractall(collections / "ansible_collections" / "pydeploy" / "wsgi", filter="data")
    lint = subprocess.run(
        ["ansible-lint", "--profile", "production", "--exclude", "tests/integration/", "--exclude", "tests/unit/",
         "--format=pep8", "--nocolor", "-x", "yaml,var-naming,avoid-dot-notation,import-task-no-when,single-entry-point,use-loop",
         "--offline"],
        capture_output=True, text=True, cwd=collections / "ansible_collections" / "pydeploy" / "wsgi",
        env={**env, "ANSIBLE_COLLECTIONS_PATH": str(collections), "XDG_CACHE_HOME": str(tmp_path / "cache")}, timeout=1800, check=False,
    )
    assert lint.returncode == 0 and lint.stdout.strip() == "", lint.stdout[-3000:] + lint.stderr[-3000:]


def test_sanity_ignores_only_the_license_header():
    # The collection is Apache-2.0; ansible-test's validate-modules wants a
    # GPLv3 header in each module. That is all the ignore files may skip:
    # every other sanity test passes (scripts/sanity).
    modules = sorted(f"plugins/modules/{path.name}" for path in (ROOT / "plugins" / "modules").glob("*.py"))
    ignores = sorted((ROOT / "tests" / "sanity").glob("ignore-*.txt"))
    # One for each ansible-core release tested (ansible-test reads the
    # file of its own release only).
    assert {path.name for path in ignores} == {f"ignore-{release}.txt" for release in core_releases_tested()}
    for ignore in ignores:
        entries = [line.split("#")[0].split() for line in ignore.read_text().splitlines()]
        assert sorted(path for path, _ in entries) == modules, ignore.name
        assert {test for _, test in entries} == {"validate-modules:missing-gplv3-license"}, ignore.name


def test_changelog_is_the_one_antsibull_changelog_writes(tmp_path):
    # CHANGELOG.rst comes from changelogs/changelog.yaml (antsibull-changelog
    # release); generated again in a copy, it is the same file.
    for name in ("galaxy.yml", "CHANGELOG.rst"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "changelogs", tmp_path / "changelogs")
    run = subprocess.run(
        ["antsibull-changelog", "generate"], capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "CHANGELOG.rst").read_text() == (ROOT / "CHANGELOG.rst").read_text(), "run antsibull-changelog generate"
    # The version galaxy.yml builds has its release notes.
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    assert version in yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text())["releases"]


def core_pins_tested():
    """{release line: (ansible-core pin, ansible pin)} of every ansible-core
    tested: requirements.txt's (every step) and tests/ansible-cores.txt's
    (scripts/cores)."""
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line and not line.startswith("#"))
    tested = {".".join(pins["ansible-core"].split(".")[:2]): (pins["ansible-core"], pins["ansible"])}
    for line in (ROOT / "tests" / "ansible-cores.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            release, *more = line.split()
            versions = dict(pin.split("==") for pin in more)
            assert versions["ansible-core"].startswith(release + "."), line
            tested[release] = (versions["ansible-core"], versions["ansible"])
    return tested


def core_releases_tested():
    return sorted(core_pins_tested(), key=lambda release: tuple(map(int, release.split("."))))


def test_readme_controller_versions_are_the_tested_ones():
    # The README's table of the controller side names every ansible-core the
    # tests run (requirements.txt, tests/ansible-cores.txt), what
    # meta/runtime.yml declares, and the Pythons these tests run on.
    section = (ROOT / "README.md").read_text().split("\n## Supported versions\n", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0]: cells[1]
        for cells in ([cell.strip() for cell in line.strip().strip("|").split("|")] for line in section.splitlines() if line.startswith("|"))
        if len(cells) == 2
    }
    pins = core_pins_tested()
    releases = core_releases_tested()
    requires = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["requires_ansible"]
    assert rows["ansible-core"].startswith(", ".join(releases) + " "), rows["ansible-core"]
    assert requires in rows["ansible-core"], rows["ansible-core"]
    for core, ansible in pins.values():
        assert core in rows["ansible-core"], (core, rows["ansible-core"])
        assert ansible in rows["community.crypto"], (ansible, rows["community.crypto"])
    assert requires == f">={releases[0]}.0", "the floor is the oldest release tested"
    # Each role says the same floor (Galaxy shows it per role).
    floors = {role.parent.parent.name: yaml.safe_load(role.read_text())["galaxy_info"]["min_ansible_version"]
              for role in (ROOT / "roles").glob("*/meta/main.yml")}
    assert set(floors.values()) == {releases[0]}, floors
    # This run's ansible-core is one of the tested releases, and its Python
    # one the table names.
    from ansible.release import __version__ as running

    assert ".".join(running.split(".")[:2]) in releases, running
    assert "%d.%d" % sys.version_info[:2] in rows["Python"], rows["Python"]
