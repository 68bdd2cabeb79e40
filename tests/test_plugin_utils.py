"""plugins/plugin_utils/roles.py on the controller: resolved(), which the
input checks (check_inputs) and the record of an unchanged host (converged)
use to template each role option, and each variable it reads, once."""

import pytest
from ansible.errors import AnsibleTemplateError, AnsibleUndefinedVariable
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible_collections.pydeploy.wsgi.plugins.plugin_utils import roles


@pytest.fixture(autouse=True)
def template_cache(tmp_path, monkeypatch):
    """The compiled templates kept between runs: a folder of the test's own,
    empty at its start (plugin_utils/template_cache.py)."""
    folder = tmp_path / "templates"
    monkeypatch.setenv("PYDEPLOY_TEMPLATE_CACHE_DIR", str(folder))
    return folder


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


def test_a_level_of_single_expressions_is_one_template_with_the_values_one_by_one_gives(monkeypatch):
    t = trust_as_template
    given = {
        "a_int": t("{{ 40 + 2 }}"),
        "a_list": t("{{ pydeploy_names | map('lower') | list }}"),
        "a_dict": t("{{ {'x': 1, 'y': [true, none]} }}"),
        "a_bool": t("{{ pydeploy_names | length == 2 }}"),
        "a_none": t("{{ none }}"),
        "a_tuple": t("{{ 1, 2 }}"),
        # Not one expression alone: templated by themselves.
        "a_text": t(" {{ 40 + 2 }}"),
        "a_trimmed": t("{{- 40 + 2 -}}"),
        "a_two": t("{{ 1 }}{{ 2 }}"),
        # In the same level: undefined, and an omitted value, left as they are.
        "a_broken": t("{{ nowhere }}"),
        "a_omitted": t("{{ nowhere | default(omit) }}"),
        # Not trusted as a template (what a fact or a registered result holds): never templated.
        "a_untrusted": "{{ lookup('pipe', 'id') }}",
        "pydeploy_names": ["Example.COM", "www.example.com"],
    }
    from ansible._internal._templating._utils import Omit  # noqa: PLC0415

    given["omit"] = Omit
    names = [name for name in given if name.startswith("a_")]
    templar = Templar(loader=DataLoader(), variables=given)
    expected = {}
    for name in names:
        try:
            expected[name] = templar.template(given[name])
        except Exception:  # noqa: BLE001 (left as it is)
            expected[name] = given[name]
    templates = []
    template = Templar.template

    def counted(self, variable, *args, **kwargs):
        templates.append(variable)
        return template(self, variable, *args, **kwargs)

    monkeypatch.setattr(Templar, "template", counted)
    got = roles.resolved(templar, given, names)
    assert {name: got[name] for name in names} == expected
    assert got["a_int"] == 42 and got["a_tuple"] == [1, 2] and got["a_text"] == " 42" and got["a_trimmed"] == 42
    assert got["a_broken"] is given["a_broken"] and got["a_omitted"] is given["a_omitted"]
    assert got["a_untrusted"] == "{{ lookup('pipe', 'id') }}"
    # The eight single expressions in one template; it failed (nowhere), and
    # they went one by one, as before.
    together = [text for text in templates if isinstance(text, str) and text.startswith("{{ {'v0': ")]
    assert len(together) == 1 and "nowhere" in together[0], templates
    assert given["a_int"] in templates
    # Without the failing ones: one template for the six, none alone.
    templates.clear()
    names = [name for name in names if name not in ("a_broken", "a_omitted")]
    got = roles.resolved(templar, given, names)
    assert {name: got[name] for name in names} == {name: expected[name] for name in names}
    together = [text for text in templates if isinstance(text, str) and text.startswith("{{ {'v0': ")]
    assert len(together) == 1 and together[0].count("'v") == 6, templates
    assert not any(given[name] in templates for name in ("a_int", "a_list", "a_dict", "a_bool", "a_none", "a_tuple"))


def compiles(monkeypatch):
    """A list that grows by one at each template Jinja compiles (ansible-core's
    own compiles and those templates_compiled_once makes)."""
    from ansible._internal._templating._jinja_bits import AnsibleEnvironment  # noqa: PLC0415

    made = []
    original = AnsibleEnvironment.compile

    def counted(self, source, *args, **kwargs):
        made.append(str(source))
        return original(self, source, *args, **kwargs)

    monkeypatch.setattr(AnsibleEnvironment, "compile", counted)
    return made


def test_within_templates_compiled_once_a_template_compiles_once_and_renders_each_hosts_values(monkeypatch):
    made = compiles(monkeypatch)
    template = trust_as_template("{{ names | map('upper') | join(',') }}:{{ port }}")
    hosts = [{"names": ["a", "b"], "port": 80}, {"names": ["c"], "port": 443}, {"names": [], "port": 8443}]
    apart = [Templar(loader=DataLoader(), variables=host).template(template) for host in hosts]
    assert len(made) == 3
    with roles.templates_compiled_once():
        together = [Templar(loader=DataLoader(), variables=host).template(template) for host in hosts]
    assert len(made) == 4
    assert together == apart == ["A,B:80", "C:443", ":8443"]
    # Left as it was: every use compiles again.
    Templar(loader=DataLoader(), variables=hosts[0]).template(template)
    assert len(made) == 5


def test_within_templates_compiled_once_a_broken_template_fails_at_each_use_as_before(monkeypatch):
    made = compiles(monkeypatch)
    broken = trust_as_template("{{ names | map('upper' }}")
    with roles.templates_compiled_once():
        for _ in range(2):
            with pytest.raises(AnsibleTemplateError, match="Syntax error"):
                Templar(loader=DataLoader(), variables={"names": []}).template(broken)
    # Not kept: compiled again, and failed again, at each use.
    assert len(made) == 2
    # An undefined variable fails at each host that lacks it, not at the others.
    template = trust_as_template("{{ port + 1 }}")
    with roles.templates_compiled_once():
        assert Templar(loader=DataLoader(), variables={"port": 1}).template(template) == 2
        with pytest.raises(AnsibleUndefinedVariable, match="port"):
            Templar(loader=DataLoader(), variables={}).template(template)
        assert Templar(loader=DataLoader(), variables={"port": 2}).template(template) == 3


@pytest.mark.parametrize("bounds, value, message", [
    ({"min": 1}, 0, "x_workers must be at least 1 (got 0)"),
    ({"min": 1, "unit": "second"}, 0, "x_workers must be at least 1 second (got 0)"),
    ({"min": 2, "unit": "second"}, 1, "x_workers must be at least 2 seconds (got 1)"),
    ({"min": 0, "zero": "off", "unit": "byte"}, -1, "x_workers must be 0 (off) or more bytes (got -1)"),
    ({"min": 4096, "max": 65535, "unit": "byte"}, 1024, "x_workers must be 4096 to 65535 bytes (got 1024)"),
    ({"min": 0, "max": 65535, "zero": "off"}, 70000, "x_workers must be 0 (off) to 65535 (got 70000)"),
    ({"min": 2, "why": "the current and the previous release"}, 1,
     "x_workers must be at least 2 (the current and the previous release; got 1)"),
])
def test_a_range_is_the_check_it_stands_for_with_its_message(bounds, value, message):
    check = roles._range_check("x_workers", bounds, "test")
    templar = Templar(loader=DataLoader(), variables={"x_workers": value})
    assert templar.template(check["ok"]) is False
    assert templar.template(check["msg"]) == message
    inside = bounds.get("max", bounds["min"])
    assert Templar(loader=DataLoader(), variables={"x_workers": inside}).template(check["ok"]) is True


@pytest.mark.parametrize("name, bounds", [
    ("x_a", {"max": 3}),
    ("x_a", {"min": 3, "max": 3}),
    ("x_a", {"min": 1, "zero": "off"}),
    ("x_a", {"min": 1, "step": 2}),
    ("x_a", {"min": True}),
    ("x_a }}{{ lookup('pipe', 'id')", {"min": 1}),
])
def test_a_range_that_is_not_one_is_refused(name, bounds):
    with pytest.raises(roles.AnsibleError, match="range"):
        roles._range_check(name, bounds, "test")


def test_a_checks_file_s_ranges_come_first_and_keep_its_checks():
    checks = {"ranges": {"x_a": {"min": 1}}, "checks": [{"ok": "{{ true }}", "msg": "m"}], "vars": {"v": 1}}
    made = roles._with_ranges(checks, "test")
    assert [check["msg"] for check in made["checks"]] == ["x_a must be at least 1 (got {{ x_a }})", "m"]
    assert made["vars"] == {"v": 1} and "ranges" not in made and "ranges" in checks


def test_one_template_text_includes_from_the_folders_of_each_use(tmp_path):
    # The template action renders a file's text with the file's folders as
    # the search path: two files of one text, in two folders, include each
    # their folder's part, once compiled as when compiled at every use.
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "part.j2").write_text(f"{name} {{{{ value }}}}")
    text = trust_as_template("[{% include 'part.j2' %}]")
    with roles.templates_compiled_once():
        got = [
            Templar(loader=DataLoader(), variables={"value": index}).copy_with_new_env(searchpath=[str(tmp_path / name)]).template(text)
            for index, name in enumerate(("one", "two", "one"))
        ]
    assert got == ["[one 0]", "[two 1]", "[one 2]"]
