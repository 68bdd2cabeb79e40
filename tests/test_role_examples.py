"""Each role's example play (roles/<role>/examples/play.yml, which
scripts/role-docs puts into the role's README) is a real play: Ansible
loads it (--syntax-check), every role in it accepts its variables (Ansible's
argument spec validation and the role's own checks, run alone with a tag no
task has: only the tasks tagged always, which are those), and ansible-lint's
production profile finds nothing in it (the lint step's run over the whole
project, which examines each example as a playbook: checked here).

The plays run from a project of their own, as a user's would be: beside them
the files they name (the app's folder, a CA certificate), their vaults'
variables given as extra vars, against localhost in the group web.
"""

import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
ROLES = sorted(path.name for path in (ROOT / "roles").iterdir() if (path / "meta" / "argument_specs.yml").is_file())
# make_certificate() is the scenarios' helper.
_spec = importlib.util.spec_from_file_location("scenario_helpers", ROOT / "molecule" / "default" / "tests" / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)
# What the examples read from a vault.
VAULT = {
    "vault_app_secret_key": "an-example-secret-key-of-more-than-32-characters",
    "vault_database_url": "postgresql://hello:secret@db.internal/hello",
    "vault_pip_index_password": "secret",
    "vault_alert_smtp_password": "secret",
    "vault_alert_slack_webhook": "https://hooks.slack.com/services/T000/B000/XXXX",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A user's project: the examples, their files, an inventory of localhost."""
    base = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "examples" / "flask_app", base / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (base / "files").mkdir()
    cert, _, _ = helpers.make_certificate(base / "files", ["Example Corp CA"], days=365, ca=True)
    shutil.copy(cert, base / "files" / "corporate-ca.pem")
    for role in ROLES:
        shutil.copy(ROOT / "roles" / role / "examples" / "play.yml", base / f"{role}.yml")
    localhost = {"ansible_connection": "local", "ansible_python_interpreter": os.path.realpath(os.sys.executable)}
    (base / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"web": {"hosts": {"localhost": localhost}}}}}))
    return base


def playbook(project, role, *args):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = ["ansible-playbook", "-i", str(project / "hosts.yml"), str(project / f"{role}.yml"), *args]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=project, env=env, timeout=300, check=False)
    return result.returncode, result.stdout + result.stderr


def test_every_role_has_an_example_in_its_readme():
    for role in ROLES:
        example = (ROOT / "roles" / role / "examples" / "play.yml").read_text().removeprefix("---\n").rstrip("\n")
        plays = yaml.safe_load(example)
        assert any(
            (entry if isinstance(entry, str) else entry["role"]) == f"pydeploy.wsgi.{role}" for play in plays for entry in play["roles"]
        ), role
        assert example in (ROOT / "roles" / role / "README.md").read_text(), f"run scripts/role-docs ({role})"


@pytest.fixture(scope="module")
def examples(project):
    """Every example loaded (--syntax-check) and run for its checks, in one
    playbook that imports each role's play in turn: one ansible-playbook
    run of each kind instead of one per role (the runs' start is most of
    their cost); each test reads its role's part."""
    plays = project / "all-examples.yml"
    plays.write_text(yaml.safe_dump([{"ansible.builtin.import_playbook": f"{role}.yml"} for role in ROLES]))
    syntax = playbook(project, "all-examples", "--syntax-check")
    extra = json.dumps({**VAULT, "ansible_become": False})
    checks = playbook(project, "all-examples", "--tags", "pydeploy_examples_checks_only", "-e", extra)
    return syntax, checks


def part_of(out, role):
    """The output of the plays of roles/<role>/examples/play.yml: from its
    first play's header to the next example's (the recap ends the last);
    None if its plays never ran (an example before it failed)."""
    starts = []
    for name in ROLES:
        first = yaml.safe_load((ROOT / "roles" / name / "examples" / "play.yml").read_text())[0]
        found = out.find(f"PLAY [{first['name']}]", starts[-1] if starts else 0)
        if found < 0:
            break
        starts.append(found)
    index = ROLES.index(role)
    if index >= len(starts):
        return None
    return out[starts[index]:starts[index + 1] if index + 1 < len(starts) else out.find("PLAY RECAP")]


def test_the_examples_load_and_run_their_checks_without_a_change(examples):
    (rc, out), (checks_rc, checks_out) = examples
    assert rc == 0, out[-3000:]
    assert checks_rc == 0, checks_out[-3000:]
    assert re.search(r"^localhost\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", checks_out, re.M), checks_out[-3000:]


@pytest.mark.parametrize("role", ROLES)
def test_the_example_s_roles_accept_its_variables(examples, role):
    _, (_, out) = examples
    example = ROOT / "roles" / role / "examples" / "play.yml"
    part = part_of(out, role)
    assert part is not None, f"the plays of {example} never ran: an example before it failed\n{out[-3000:]}"
    assert not re.search(r"^(fatal|failed): ", part, re.M), part[-3000:]
    plays = yaml.safe_load(example.read_text())
    for name in [entry if isinstance(entry, str) else entry["role"] for play in plays for entry in play["roles"]]:
        # Ansible's argument spec validation of the role's main entry point,
        # then the role's checks (tasks/validate.yml), in this example's plays.
        assert f"TASK [{name} : Validating arguments against arg spec 'main'" in part, part[-3000:]
        assert f"TASK [{name} : Check the role's input]" in part, part[-3000:]


def test_the_app_roles_example_would_be_refused_without_its_secret(project):
    # The stub the READMEs had (the role with no variables) fails; the
    # example names what the role needs.
    rc, out = playbook(project, "app", "--tags", "pydeploy_examples_checks_only", "-e", json.dumps({**VAULT, "vault_app_secret_key": ""}))
    assert rc != 0, out[-3000:]
    assert "app_secret_key" in out, out[-3000:]


def test_the_examples_pass_ansible_lints_production_profile(monkeypatch):
    # The lint step (scripts/test, and scripts/cores on each newer release)
    # runs ansible-lint on the whole project, with this configuration; a
    # second run over the examples alone found what that one finds, at 17
    # seconds a release. Here: that run examines each example, as a
    # playbook, under the production profile (ansible-lint's own discovery
    # of the files it lints, its exclude_paths applied).
    from ansiblelint.cli import get_config
    from ansiblelint.file_utils import Lintable, discover_lintables

    monkeypatch.chdir(ROOT)
    options = get_config([])
    linted = {str(pathlib.Path(name)) for name in discover_lintables(options)}
    assert options.profile == "production", options.profile
    assert pathlib.Path(options.config_file) == ROOT / ".ansible-lint", options.config_file
    assert not options.skip_list, options.skip_list
    for role in ROLES:
        example = f"roles/{role}/examples/play.yml"
        assert example in linted, f"ansible-lint does not examine {example}"
        assert Lintable(ROOT / example).kind == "playbook", example
