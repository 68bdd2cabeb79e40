"""Each role's argument_specs.yml documents exactly its defaults, with the same values."""

import json
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).parent.parent
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())


def load(path):
    return yaml.safe_load(path.read_text()) or {}


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_default_is_specified_with_the_same_value(role):
    defaults = load(role / "defaults" / "main.yml")
    specs = load(role / "meta" / "argument_specs.yml")["argument_specs"]
    options = specs["main"]["options"]
    assert set(defaults) - set(options) == set(), "defaults without a spec"
    undocumented = {name for name, spec in options.items() if name not in defaults and not spec.get("required")}
    assert undocumented == set(), "specs without a default that are not required"
    for name, value in defaults.items():
        spec_default = options[name].get("default")
        text = value if isinstance(value, str) else json.dumps(value)
        if "{{" in text or "\n" in text or len(text) > 100:
            continue  # templated or long values (an argv, a config list): documented in words
        assert spec_default == value, f"{role.name}: {name} default {value!r} vs spec {spec_default!r}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_variables_carry_the_role_prefix_and_a_description(role):
    options = load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    for name, spec in options.items():
        assert name.startswith(f"{role.name}_"), name
        assert spec.get("description"), f"{name} has no description"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_validate_entry_point_matches_main(role):
    # site.yml checks every role's input up front through the "validate" entry point.
    specs = load(role / "meta" / "argument_specs.yml")["argument_specs"]
    assert specs["validate"]["options"] == specs["main"]["options"]
    # ansible-doc lists it: it says it is not for users.
    assert specs["validate"]["short_description"].startswith("Internal:")
    assert (role / "tasks" / "validate.yml").is_file()


# What pydeploy.wsgi.check_inputs (plugins/action/check_inputs.py) reads.
CHECKS_KEYS = {"vars", "ranges", "checks", "preflight", "tasks"}
CHECK_KEYS = {"ok", "msg", "loop", "when", "gate", "warn"}


def is_template(text):
    return text.strip().startswith("{{") and text.strip().endswith("}}")


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_checks_are_templates_with_a_message(role):
    # Each role's checks beyond its argument spec (meta/checks.yml): a
    # template that gives true or false, and a message naming the variable.
    checks = load(role / "meta" / "checks.yml")
    assert set(checks) <= CHECKS_KEYS, set(checks) - CHECKS_KEYS
    assert checks.get("checks"), "no checks"
    for check in checks["checks"]:
        assert set(check) <= CHECK_KEYS and {"ok", "msg"} <= set(check), check
        assert is_template(check["ok"]) and is_template(check.get("when", "{{ true }}")), check
        # The message names a variable of the role (or a shared pydeploy_ one).
        assert f"{role.name}_" in check["msg"] or "pydeploy_" in check["msg"], check["msg"]
    # Whole numbers within bounds: the role's own options, each bound a whole number.
    defaults = load(role / "defaults" / "main.yml")
    for name, bounds in (checks.get("ranges") or {}).items():
        assert name in defaults and set(bounds) <= {"min", "max", "unit", "zero", "why"}, (name, bounds)
        assert isinstance(bounds["min"], int) and isinstance(bounds.get("max", bounds["min"] + 1), int), (name, bounds)
        assert all(isinstance(bounds[key], str) for key in ("unit", "zero", "why") if key in bounds), (name, bounds)
    for check in (checks.get("preflight") or {}).get("checks", []):
        assert set(check) == {"name", "ok", "fix"}, check
    for task in checks.get("tasks") or []:
        assert set(task) == {"file", "when"} and (role / "tasks" / f"{task['file']}.yml").is_file(), task
    # The role's own entry points run them too (the playbooks include them after their one check task).
    assert ("include_tasks" in (role / "tasks" / "validate.yml").read_text()) == bool(checks.get("tasks")), role.name


def test_the_playbooks_checks_are_templates_with_a_message():
    # The playbooks' own checks (playbooks/checks/inputs.yml, read by the
    # check_inputs task of playbooks/tasks/check-inputs.yml): as a role's.
    checks = load(ROOT / "playbooks" / "checks" / "inputs.yml")
    assert set(checks) == {"vars", "checks"}
    assert len(checks["checks"]) >= 15
    for check in checks["checks"]:
        assert set(check) <= CHECK_KEYS and {"ok", "msg"} <= set(check), check
        assert is_template(check["ok"]) and is_template(check.get("when", "{{ true }}")), check
        assert not (check.get("gate") and check.get("warn")), check
    assert "playbooks/checks/inputs.yml" in (ROOT / "playbooks" / "tasks" / "check-inputs.yml").read_text()


def role_imports():
    """Every import_role and include_role of the playbooks and the roles' tasks:
    (file, role name, its arguments)."""
    for path in sorted([*(ROOT / "playbooks").rglob("*.yml"), *(ROOT / "roles").glob("*/tasks/*.yml")]):
        stack = [yaml.safe_load(path.read_text())]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                for key in ("ansible.builtin.import_role", "ansible.builtin.include_role"):
                    if key in node:
                        yield path.relative_to(ROOT), node[key]["name"], node[key]
                stack.extend(node.values())


def test_only_entry_points_without_a_spec_skip_ansibles_validation():
    # rolespec_validate: false spares a playbook run reading each role's spec
    # again at each import (check_inputs validated every role); an entry point
    # with a spec of its own (app's rollback, tls's acme) keeps Ansible's
    # validation task.
    seen = []
    for path, name, args in role_imports():
        if "{{" in name:
            # Named at run time: the app server's contract (deploy.yml), the
            # checks that need a module (each role's meta/checks.yml tasks).
            entry = args["tasks_from"]
            files = {"contract": [path.parent.parent.name for path in (ROOT / "roles").glob("*/tasks/contract.yml")]}
            for checks in (ROOT / "roles").glob("*/meta/checks.yml"):
                for task in load(checks).get("tasks") or []:
                    files.setdefault(task["file"], []).append(checks.parent.parent.name)
            entries = files["contract"] if entry == "contract" else [role for name, roles in files.items() if name != "contract" for role in roles]
            assert entries and args.get("rolespec_validate") is False, (path, args)
            for role in entries:
                specs = load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]
                names = ["contract"] if entry == "contract" else [name for name, roles in files.items() if role in roles and name != "contract"]
                assert not set(names) & set(specs), f"{path}: {role} has a spec for {names}, yet skips its validation"
            seen.append((str(path), "(named at run time)", entry, False))
            continue
        role = name.removeprefix("pydeploy.wsgi.")
        specs = load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]
        entry = args.get("tasks_from", "main")
        entries = [role_entry for role_entry in specs if entry == role_entry or entry.startswith("{{")]
        if args.get("rolespec_validate") is False:
            assert entries == [], f"{path}: {name} {entry} has a spec, yet skips its validation"
        else:
            assert entries, f"{path}: {name} {entry} has no spec: rolespec_validate: false spares reading it"
        seen.append((str(path), role, entry, args.get("rolespec_validate", True)))
    assert ("playbooks/site.yml", "tls", "acme", True) in seen and ("playbooks/site.yml", "nginx", "run", False) in seen, seen
    assert ("playbooks/deploy.yml", "(named at run time)", "contract", False) in seen, seen
    assert ("playbooks/tasks/check-inputs.yml", "(named at run time)", "{{ __pydeploy_check.file }}", False) in seen, seen
