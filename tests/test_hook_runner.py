"""The app role's runner of deploy hooks (__app_hook_runner in
roles/app/vars/main.yml), run here as systemd runs it on the host: /bin/sh
-c with the script, then the point's commands as arguments. Each command
runs in a shell of its own, in order, up to the first that fails, whose
index and exit status it names; the systemd unit around it is the
release scenario's (molecule/release/tests/test_release.py)."""

import os
import pathlib
import subprocess

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
RUNNER = yaml.safe_load((ROOT / "roles" / "app" / "vars" / "main.yml").read_text())["__app_hook_runner"]


def run(tmp_path, *commands, point="build"):
    env = {**os.environ, "PYDEPLOY_HOOK": point, "PYDEPLOY_RELEASE": "v1-abc"}
    return subprocess.run([*RUNNER, *commands], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_every_command_runs_in_order_in_a_shell_of_its_own(tmp_path):
    done = run(tmp_path, "echo one >> log", "cd sub 2>/dev/null || mkdir sub && cd sub && echo two >> ../log",
               'echo "$PYDEPLOY_HOOK $PYDEPLOY_RELEASE $(pwd | xargs basename)" >> log')
    assert done.returncode == 0, done.stderr
    # The third ran where the first did: the second's cd was its own shell's.
    assert (tmp_path / "log").read_text().splitlines() == ["one", "two", f"build v1-abc {tmp_path.name}"]


def test_the_first_failing_command_ends_the_point_naming_it(tmp_path):
    done = run(tmp_path, "echo one >> log", "echo broke >&2; exit 3", "echo three >> log", point="before_switch")
    assert done.returncode == 3
    assert (tmp_path / "log").read_text() == "one\n"
    assert done.stderr.splitlines() == ["broke", "pydeploy.wsgi: app_hooks.before_switch[1] failed with exit status 3"]


def test_a_command_of_several_lines_is_one_script_and_quotes_reach_it_as_written(tmp_path):
    script = "set -e\nprintf '%s\\n' \"a b\" 'c;d' > out\nfalse\necho never >> out"
    done = run(tmp_path, script, "echo after >> out")
    assert done.returncode == 1
    assert (tmp_path / "out").read_text() == "a b\nc;d\n"
    assert "app_hooks.build[0] failed with exit status 1" in done.stderr


def test_no_command_is_no_failure(tmp_path):
    assert run(tmp_path).returncode == 0


def test_the_script_holds_nothing_systemd_would_replace_first():
    # systemd reads a unit's command before the shell: "${" and "$$" would be its.
    assert "${" not in RUNNER[2] and "$$" not in RUNNER[2]
