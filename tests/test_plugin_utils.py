"""plugins/plugin_utils/roles.py on the controller: resolved(), which the
input checks (check_inputs) and the record of an unchanged host (converged)
use to template each role option, and each variable it reads, once."""

import importlib.util
import pathlib

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("pydeploy_roles", ROOT / "plugins" / "plugin_utils" / "roles.py")
roles = importlib.util.module_from_spec(spec)
spec.loader.exec_module(roles)


def variables():
    # As a play's variables hold them: the roles' files' strings are trusted templates.
    t = trust_as_template
    return {
        # A role option reading a shared value through a chain.
        "nginx_names": t("{{ __pydeploy_names }}"),
        "__pydeploy_names": t("{{ pydeploy_names | map('lower') | list }}"),
        "pydeploy_names": ["Example.COM", "www.example.com"],
        "nginx_first": t("{{ nginx_names[0] }}:{{ nginx_port }}"),
        "nginx_port": 443,
        "nginx_nested": {"server": [t("{{ nginx_first }}"), "plain"]},
        # Neither named nor read by a named one: left as it is.
        "other": t("{{ pydeploy_names | length }}"),
        # Undefined: left as it is, to fail where it is read, as before.
        "nginx_broken": t("{{ nowhere }}"),
        "nginx_reads_broken": t("{{ nginx_broken }}!"),
        # A cycle: left to Ansible.
        "nginx_ping": t("{{ nginx_pong }}"),
        "nginx_pong": t("{{ nginx_ping }}"),
    }


def test_a_chain_is_templated_once_into_every_variable_of_it():
    given = variables()
    templar = Templar(loader=DataLoader(), variables=given)
    names = ["nginx_first", "nginx_nested", "nginx_port", "nginx_reads_broken", "nginx_ping", "not_set"]
    got = roles.resolved(templar, given, names)
    assert got["nginx_first"] == "example.com:443"
    assert got["nginx_nested"] == {"server": ["example.com:443", "plain"]}
    # What the named ones read is templated too.
    assert got["nginx_names"] == got["__pydeploy_names"] == ["example.com", "www.example.com"]
    # The same values as templating each one alone.
    for name in ("nginx_first", "nginx_nested", "nginx_names", "__pydeploy_names"):
        assert templar.template(given[name]) == got[name], name
    # What fails, what loops and what nobody named read stay as they were.
    for name in ("other", "nginx_broken", "nginx_reads_broken", "nginx_ping", "nginx_pong"):
        assert got[name] is given[name], name
    assert "not_set" not in got
    # The caller's variables are not changed.
    assert given == variables()


def test_the_templated_values_are_read_as_values_by_a_later_template():
    given = variables()
    templar = Templar(loader=DataLoader(), variables=given)
    got = roles.resolved(templar, given, ["nginx_first"])
    checks = templar.copy_with_new_env(available_variables=got)
    assert checks.template(trust_as_template("{{ nginx_first is match('example[.]com:') }}")) is True
    assert checks.template(trust_as_template("{{ nginx_names | length }}")) == 2
