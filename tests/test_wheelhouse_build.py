"""The controller's wheelhouse (roles/app/files/build_wheelhouse.py) never
builds the app's code on the operator's machine: a direct reference (a
path, a file: or VCS URL, -e) in the requirements, nested files included,
or in the packages is refused before pip starts, and the probe's setup.py
never runs. Named requirements, indexes and hashes are taken."""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "roles" / "app" / "files" / "build_wheelhouse.py"
_spec = importlib.util.spec_from_file_location("build_wheelhouse", SCRIPT)
wheelhouse = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wheelhouse)


@pytest.fixture
def probe(tmp_path):
    """A package whose setup.py leaves a mark where it runs."""
    package = tmp_path / "probe"
    package.mkdir()
    (package / "setup.py").write_text(
        f"open({str(tmp_path / 'ran-here')!r}, 'w').write('ran')\n"
        "from setuptools import setup\nsetup(name='pydeploy-probe', version='1.0', py_modules=[])\n"
    )
    return package


def build(tmp_path, *pip_args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "wheels"), str(tmp_path / "wheels.tar"), *pip_args],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )


@pytest.mark.parametrize(
    "line",
    [
        "./probe",
        "{probe}",
        "pydeploy-probe @ file://{probe}",
        "-e ./probe",
        "--editable=./probe",
        "git+https://example.invalid/probe.git#egg=pydeploy-probe",
        "pydeploy-probe @ https://example.invalid/probe-1.0.tar.gz",
        "--no-binary :all:",
        "flask==3.1.3 \\\n  --hash=sha256:00\n./probe",
    ],
)
def test_a_direct_reference_in_the_requirements_is_refused_before_pip(tmp_path, probe, line):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("flask==3.1.3\n" + line.format(probe=probe) + "\n")
    run = build(tmp_path, "--requirement", str(requirements))
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stderr.startswith(f"app_wheelhouse: {requirements}:"), run.stderr
    assert "set app_wheelhouse_builder: host" in run.stderr
    assert not (tmp_path / "ran-here").exists()
    assert not (tmp_path / "wheels.tar").exists()


def test_a_nested_requirements_file_is_checked_too(tmp_path, probe):
    (tmp_path / "base.txt").write_text(f"{probe}\n")
    (tmp_path / "requirements.txt").write_text("-r base.txt\nflask==3.1.3\n")
    run = build(tmp_path, "--requirement", str(tmp_path / "requirements.txt"))
    assert run.returncode == 1
    assert f"{tmp_path / 'base.txt'}:1: {probe} is a path or URL" in run.stderr, run.stderr
    assert not (tmp_path / "ran-here").exists()


@pytest.mark.parametrize("package", ["{probe}", "pydeploy-probe @ file://{probe}", "-e{probe}"])
def test_a_package_argument_that_is_a_place_is_refused(tmp_path, probe, package):
    run = build(tmp_path, "gunicorn==23.0.0", package.format(probe=probe))
    assert run.returncode == 1
    assert "app_wheelhouse: app_package, app_pip_packages or app_server_packages:" in run.stderr, run.stderr
    assert not (tmp_path / "ran-here").exists()


def test_named_requirements_indexes_hashes_and_wheel_files_are_taken(tmp_path):
    (tmp_path / "constraints.txt").write_text("werkzeug<4\n")
    (tmp_path / "requirements.txt").write_text(
        "# the app\n-i https://pypi.org/simple\n--extra-index-url https://example.invalid/simple\n"
        "-c constraints.txt\nFlask==3.1.3 \\\n    --hash=sha256:00\nwerkzeug[watchdog]>=3 ; python_version >= '3.8'\n"
    )
    wheel = tmp_path / "hello_pydeploy-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    wheelhouse.check(["--requirement", str(tmp_path / "requirements.txt"), str(wheel), "gunicorn==23.0.0", "gevent"])


def test_the_agent_and_the_vault_are_not_handed_to_pip():
    for name in ("SSH_AUTH_SOCK", "SSH_AGENT_PID", "ANSIBLE_VAULT_PASSWORD_FILE", "GITHUB_TOKEN", "DB_PASSWORD"):
        assert wheelhouse.SECRETS.match(name), name
    for name in ("PATH", "HOME", "PIP_INDEX_URL", "REQUESTS_CA_BUNDLE"):
        assert not wheelhouse.SECRETS.match(name), name
