"""Every plugin's documented options are the ones it accepts: a module's
DOCUMENTATION against its AnsibleModule argument_spec (names, types,
required, defaults, choices), and, where an action plugin of the same name
takes the task's arguments, against the action's _VALID_ARGS."""

import ast
import importlib.util
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODULES = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__")
# What ansible-doc shows when the documentation names no default or type.
KEYS = ("type", "required", "default", "choices", "elements")


def documented(name):
    source = (ROOT / "plugins" / "modules" / f"{name}.py").read_text()
    docs = yaml.safe_load(re.search(r'DOCUMENTATION = r"""(.*?)"""', source, re.S).group(1))
    return {option: {key: spec[key] for key in KEYS if key in spec} for option, spec in (docs.get("options") or {}).items()}


def argument_spec(name):
    """The module's argument_spec literal, or None for a file that only documents an action plugin."""
    tree = ast.parse((ROOT / "plugins" / "modules" / f"{name}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "AnsibleModule":
            for keyword in node.keywords:
                if keyword.arg == "argument_spec":
                    return ast.literal_eval(keyword.value)
    return None


def valid_args(name):
    """The action plugin's _VALID_ARGS, or None where the module has no action plugin."""
    path = ROOT / "plugins" / "action" / f"{name}.py"
    if not path.exists():
        return None
    # The action plugins import the collection's plugin_utils by its
    # collection name, which tests/conftest.py resolves.
    spec = importlib.util.spec_from_file_location(f"action_{name}", path)
    action = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(action)
    return set(action.ActionModule._VALID_ARGS)


def normal(spec):
    """An option's spec as ansible-doc reads it: str by default, required false, no default."""
    spec = dict(spec)
    spec.setdefault("type", "str")
    if not spec.get("required"):
        spec.pop("required", None)
    if spec.get("default") is None:
        spec.pop("default", None)
    return spec


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_are_the_accepted_ones(name):
    docs, spec, action = documented(name), argument_spec(name), valid_args(name)
    assert spec is not None or action is not None, f"{name}: neither a module nor an action plugin takes its arguments"
    if action is not None:
        # What a task may give: the action plugin refuses anything else.
        assert set(docs) == action, (name, sorted(set(docs) ^ action))
    if spec is not None:
        assert set(docs) == set(spec), (name, sorted(set(docs) ^ set(spec)))
        for option in docs:
            assert normal(docs[option]) == normal({key: value for key, value in spec[option].items() if key in KEYS}), (name, option)
