"""Each role's argument_specs.yml documents exactly its defaults, with the same values."""

import json
import pathlib

import pytest
import yaml

ROLES = sorted(p for p in (pathlib.Path(__file__).parent.parent / "roles").iterdir() if p.is_dir())


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
