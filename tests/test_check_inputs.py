"""The action pydeploy.wsgi.check_inputs on the controller: every check of a
checks file is told in one template where all hold (what every run pays on
every host), and one by one, for their messages, warnings and gates, where
any fails or cannot be told so."""

import pathlib

import pytest
import yaml
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible_collections.pydeploy.wsgi.plugins.action import check_inputs

ROOT = pathlib.Path(__file__).resolve().parent.parent

CHECKS_FILES = sorted([*ROOT.glob("roles/*/meta/checks.yml"), ROOT / "playbooks" / "checks" / "inputs.yml"])
CHECKS = {
    "checks": [
        {"ok": "{{ port | int > 0 }}", "msg": "port must be a TCP port (got {{ port }})"},
        {"when": "{{ names | length > 0 }}", "ok": "{{ names[0] is match('^[a-z]') }}", "msg": "names start with a letter"},
        {"loop": "{{ names }}", "ok": "{{ item is not search(';') }}", "msg": "a name without ; (got {{ item }})"},
        {"ok": "{{ mode != 'loud' }}", "msg": "mode loud is not advised", "warn": True},
    ],
    "preflight": {
        "waivers": "waived",
        "checks": [{"name": "debug_off", "ok": "{{ not debug }}", "fix": "Turn debug off."}],
    },
}
GOOD = {"port": 443, "names": ["example.com", "www.example.com"], "mode": "quiet", "debug": False, "waived": []}


def trusted(value):
    # As the loader gives a file of the collection: its strings are trusted templates.
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return value


def evaluate(variables, checks=CHECKS):
    """(the one-template verdict, the errors and warnings one by one)."""
    checks = trusted(checks)
    templar = Templar(loader=DataLoader(), variables=variables)
    action = check_inputs.ActionModule.__new__(check_inputs.ActionModule)
    warnings = []
    fast = action._all_hold(templar, checks["checks"]) and action._all_hold(templar, checks["preflight"]["checks"])
    errors = action._check_errors(checks, templar, variables, warnings)
    return fast, errors, warnings


@pytest.mark.parametrize("path", CHECKS_FILES, ids=[str(path.relative_to(ROOT)) for path in CHECKS_FILES])
def test_every_check_of_the_collection_is_told_in_the_one_template(path):
    checks = yaml.safe_load(path.read_text()) or {}
    lists = [checks.get("checks") or [], (checks.get("preflight") or {}).get("checks") or []]
    assert any(lists), path
    for listed in lists:
        assert check_inputs._all_hold_template(trusted(listed)) is not None, [
            check for check in listed if check_inputs._all_hold_template(trusted([check])) is None
        ]


def test_good_input_holds_in_the_one_template_and_one_by_one():
    assert evaluate(GOOD) == (True, [], [])


@pytest.mark.parametrize(
    ("change", "errors", "warnings"),
    [
        ({"port": 0}, ["port must be a TCP port (got 0)"], []),
        ({"names": ["1st.example.com", "a;b"]}, ["names start with a letter", "a name without ; (got a;b)"], []),
        # A check whose when does not hold is not evaluated; an empty loop holds.
        ({"names": []}, [], []),
        ({"mode": "loud"}, [], ["mode loud is not advised"]),
        ({"debug": True}, ["Preflight checks failed: debug_off. Turn debug off. To waive a check knowingly, list it in waived."], []),
        ({"debug": True, "waived": ["debug_off"]}, [], ["preflight check debug_off is waived by waived (it fails): Turn debug off."]),
    ],
)
def test_what_fails_or_warns_is_told_one_by_one(change, errors, warnings):
    fast, got_errors, got_warnings = evaluate({**GOOD, **change})
    assert (got_errors, got_warnings) == (errors, warnings)
    # The one template tells all hold exactly where nothing fails.
    assert fast is (not errors and not warnings and not change.get("debug"))


@pytest.mark.parametrize(
    "check",
    [
        {"ok": "{{ port }}", "msg": "not a condition"},
        {"when": "{{ names }}", "ok": "{{ true }}", "msg": "when is not a condition"},
        {"ok": "{{ nowhere > 1 }}", "msg": "undefined"},
    ],
)
def test_a_check_that_is_no_condition_is_never_taken_as_holding(check):
    checks = {**CHECKS, "checks": [check]}
    with pytest.raises(AnsibleError):
        evaluate(GOOD, checks)
    templar = Templar(loader=DataLoader(), variables=GOOD)
    assert check_inputs.ActionModule._all_hold(templar, trusted([check])) is False
