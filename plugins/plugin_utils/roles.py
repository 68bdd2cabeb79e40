# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The collection's roles as the controller-side plugins read them: their
defaults, vars, argument specs and checks, and the variables a role's tasks
would see. Shared by the actions pydeploy.wsgi.check_inputs (each role's
input, checked) and pydeploy.wsgi.converged (each role's input, as a digest).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re

from ansible.errors import AnsibleError, AnsibleTemplateError, AnsibleUndefinedVariable
from ansible.template import is_trusted_as_template, trust_as_template
from ansible_collections.pydeploy.wsgi.plugins.plugin_utils import template_cache

COLLECTION = "pydeploy.wsgi."
# This file is <collection>/plugins/plugin_utils/roles.py.
COLLECTION_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES_DIR = os.path.join(COLLECTION_DIR, "roles")
# What meta/checks.yml may hold.
CHECKS_KEYS = {"vars", "ranges", "checks", "preflight", "tasks"}
# What a range may say: its bounds, the unit its numbers count, what 0 means,
# why the bounds are what they are.
RANGE_KEYS = {"min", "max", "unit", "zero", "why"}
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _load(loader, role_dir, *parts, required=True):
    path = os.path.join(role_dir, *parts)
    if not os.path.isfile(path):
        if required:
            raise AnsibleError(f"pydeploy.wsgi: {path} is missing")
        return {}
    # The loader marks the files' strings as trusted templates, as for a role's own files. Read only, never
    # changed: the loader's cached copy (a file the play loaded already, such as an imported role's defaults) is
    # taken as it is, without the deep copy of every value that load_from_file makes by default.
    data = loader.load_from_file(path, trusted_as_template=True, unsafe=True) or {}
    if not isinstance(data, dict):
        raise AnsibleError(f"pydeploy.wsgi: {path} must hold a mapping")
    return data


def _range_check(name, bounds, origin):
    """One entry of a checks file's ranges (a whole number the variable must
    be: min, max, its unit, what 0 means, why), as the check it stands for,
    with its message: "X must be at least 1 second (got 0)", "X must be 0
    (off) or more bytes (got -1)", "X must be 4096 to 65535 bytes (got 1024)",
    "X must be at least 2 (the current and the previous release; got 1)"."""
    if not _VARIABLE.match(str(name)) or not isinstance(bounds, dict) or set(bounds) - RANGE_KEYS or "min" not in bounds:
        raise AnsibleError(f"pydeploy.wsgi: {origin}: ranges maps a variable to min, and max, unit, zero, why (got {name!r}: {bounds!r})")
    low, high, unit, zero, why = (bounds.get(key) for key in ("min", "max", "unit", "zero", "why"))
    if (not isinstance(low, int) or isinstance(low, bool) or not (high is None or isinstance(high, int) and high > low)
            or not all(text is None or isinstance(text, str) and text.strip() for text in (unit, zero, why)) or (zero and low != 0)):
        raise AnsibleError(f"pydeploy.wsgi: {origin}: the range of {name} is not one (got {bounds!r})")
    first = f"{low} ({zero})" if zero else str(low)
    units = f" {unit}s" if unit else ""
    if high is not None:
        ok, said = f"{low} <= {name} | int <= {high}", f"{first} to {high}{units}"
    elif low == 0:
        ok, said = f"{name} | int >= 0", f"{first} or more{units}"
    else:
        ok, said = f"{name} | int >= {low}", f"at least {low}{f' {unit}' if unit and low == 1 else units}"
    reason = f"{why}; " if why else ""
    return {"ok": trust_as_template(f"{{{{ {ok} }}}}"), "msg": trust_as_template(f"{name} must be {said} ({reason}got {{{{ {name} }}}})")}


def _with_ranges(checks, origin):
    """A checks file with its ranges made checks, before its other checks."""
    ranges = checks.get("ranges") or {}
    if not isinstance(ranges, dict):
        raise AnsibleError(f"pydeploy.wsgi: {origin}: ranges maps variables to their bounds")
    if not ranges:
        return checks
    made = [_range_check(name, bounds, origin) for name, bounds in ranges.items()]
    return {**{key: value for key, value in checks.items() if key != "ranges"}, "checks": made + list(checks.get("checks") or [])}


def load_checks(loader, path):
    """A checks file of this collection other than a role's (the playbooks'
    own: playbooks/checks/inputs.yml), by its path in the collection."""
    if not isinstance(path, str) or os.path.isabs(path) or os.path.normpath(path) != path or path.startswith(".."):
        raise AnsibleError(f"pydeploy.wsgi: checks names a file by its path in the collection (got {path!r})")
    checks = _load(loader, COLLECTION_DIR, path)
    unknown = set(checks) - {"vars", "ranges", "checks"}
    if unknown:
        raise AnsibleError(f"pydeploy.wsgi: {path}: unknown keys {sorted(unknown)}")
    return _with_ranges(checks, path)


def load_role(loader, name):
    """One role of this collection, pydeploy.wsgi.<role>: its name, short
    name, defaults, vars, argument specs and checks."""
    if not isinstance(name, str) or not name.startswith(COLLECTION):
        raise AnsibleError(f"pydeploy.wsgi: roles lists roles of this collection, pydeploy.wsgi.<role> (got {name!r})")
    short = name[len(COLLECTION):]
    role_dir = os.path.join(ROLES_DIR, short)
    if not short.isidentifier() or not os.path.isdir(role_dir):
        raise AnsibleError(f"pydeploy.wsgi: no role {name}")
    checks = _load(loader, role_dir, "meta", "checks.yml", required=False)
    unknown = set(checks) - CHECKS_KEYS
    if unknown:
        raise AnsibleError(f"pydeploy.wsgi: {name}'s meta/checks.yml: unknown keys {sorted(unknown)}")
    checks = _with_ranges(checks, f"{name}'s meta/checks.yml")
    return {
        "name": name,
        "short": short,
        "defaults": _load(loader, role_dir, "defaults", "main.yml", required=False),
        "vars": _load(loader, role_dir, "vars", "main.yml", required=False),
        "specs": _load(loader, role_dir, "meta", "argument_specs.yml").get("argument_specs", {}),
        "checks": checks,
    }


def load_roles(loader, names):
    return role_reader(loader)(names)


def role_reader(loader):
    """load_roles for a task that reads roles for many hosts: each role read
    once, however many hosts name it."""
    loaded = {}

    def read(names):
        if not isinstance(names, list):
            raise AnsibleError("pydeploy.wsgi: roles must be a list of roles")
        for name in names:
            if name not in loaded:
                loaded[name] = load_role(loader, name)
        return [loaded[name] for name in names]

    return read


def role_variables(roles, task_vars):
    """What the roles' tasks would see: their defaults below the play's
    variables, their vars above (where the play has not loaded them:
    site.yml imports its roles, so the play has them already)."""
    variables = {}
    for role in roles:
        variables.update(role["defaults"])
    variables.update(task_vars or {})
    for role in roles:
        for name, value in role["vars"].items():
            variables.setdefault(name, value)
    return variables


def options(role, entry_point):
    """The options of one of the role's argument spec entry points."""
    spec = role["specs"].get(entry_point)
    if spec is None:
        raise AnsibleError(f"pydeploy.wsgi: {role['name']} has no argument spec entry point {entry_point!r}")
    return spec.get("options") or {}


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _strings(value):
    """The strings a variable's value holds, nested ones included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _references(value, candidates):
    """The candidate variables a value's templates may read (every name in
    them that is one: a superset, which is all the order below needs)."""
    names = set()
    for text in _strings(value):
        if "{{" in text or "{%" in text:
            names.update(name for name in _NAME.findall(text) if name in candidates)
    return names


def checks_reads(checks):
    """The names a checks file's conditions may read (its checks' and
    preflight checks' ok, when and loop): for resolved(), with the options."""
    conditions = [check.get(key) for check in [*(checks.get("checks") or []), *((checks.get("preflight") or {}).get("checks") or [])]
                  for key in ("ok", "when", "loop")]
    return {name for text in _strings(conditions) for name in _NAME.findall(text)}


# A value that is one expression and nothing around it, {{ ... }}: no
# whitespace control, no second template inside.
_ONE_EXPRESSION = re.compile(r"\A\{\{(?![-+])(?P<expression>.*?)(?<![-+])\}\}\Z", re.S)
_MARKS = ("{{", "}}", "{%", "%}", "{#", "#}")


def _one_expression(value):
    """The expression of a trusted value that is one expression alone, or None."""
    if not isinstance(value, str) or not is_trusted_as_template(value):
        return None
    match = _ONE_EXPRESSION.match(value)
    if match is None or any(mark in match["expression"] for mark in _MARKS):
        return None
    return match["expression"]


def _render_level(templar, values):
    """values (name: value) templated: those that are one trusted expression
    alone in one template for them all, a dict of their expressions (one
    compile instead of one for each: ansible-core keeps no compiled
    templates, and a host's checks read a hundred such values); the rest,
    and every value where that template fails or leaves one out (omit), one
    by one as before."""
    expressions = {name: _one_expression(value) for name, value in values.items()}
    together = [name for name, expression in expressions.items() if expression is not None]
    done = {}
    if len(together) > 1:
        template = "{{ {" + ", ".join(f"'v{index}': ({expressions[name]})" for index, name in enumerate(together)) + "} }}"
        try:
            rendered = templar.template(trust_as_template(template))
        except (AnsibleUndefinedVariable, AnsibleTemplateError):
            rendered = {}
        if isinstance(rendered, dict):
            done.update((name, rendered[f"v{index}"]) for index, name in enumerate(together) if f"v{index}" in rendered)
    rest = {name: value for name, value in values.items() if name not in done}
    if rest:
        try:
            done.update(templar.template(rest))
        except (AnsibleUndefinedVariable, AnsibleTemplateError):
            for name, value in rest.items():
                try:
                    done[name] = templar.template(value)
                except (AnsibleUndefinedVariable, AnsibleTemplateError):
                    pass
    return done


def resolved(templar, variables, names):
    """variables with the named ones, and the variables their templates read
    (transitively), templated once each, those they read first: a chain
    such as nginx_server_names -> __pydeploy_server_names ->
    pydeploy_server_names is then rendered once, not again at every
    variable and check that reads it (ansible-core keeps no compiled
    templates; the roles' options read the shared values through such
    chains, hundreds of times a host). What fails to render is left as it
    was: it fails where it is read, in its role's context, as before."""
    templated = {name for name, value in variables.items() if any("{{" in text or "{%" in text for text in _strings(value))}
    wanted, todo = set(), [name for name in names if name in templated]
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(_references(variables[name], templated) - wanted)
    reads = {name: _references(variables[name], wanted) - {name} for name in wanted}
    done = dict(variables)
    # Level by level: each level's variables read only those of the levels before.
    remaining = set(wanted)
    while remaining:
        level = sorted(name for name in remaining if not reads[name] & remaining)
        if not level:
            # A cycle (or a name read both ways): left to Ansible, as before.
            break
        level_templar = templar.copy_with_new_env(available_variables=done)
        done.update(_render_level(level_templar, {name: variables[name] for name in level}))
        remaining.difference_update(level)
    return done


def provided(role, entry_point, templar, variables):
    """As Ansible's role argument validation does: the values of the entry
    point's options the role would see, templated."""
    return templar.template({name: variables[name] for name in options(role, entry_point) if name in variables})


_COLLECTION_DIGEST = []


def collection_digest():
    """A digest of the collection's own files (roles, plugins, playbooks):
    what a run does with the same input changes when they do."""
    if not _COLLECTION_DIGEST:
        digest = hashlib.sha256()
        for part in ("roles", "plugins", "playbooks"):
            for folder, dirs, files in os.walk(os.path.join(COLLECTION_DIR, part)):
                dirs[:] = sorted(name for name in dirs if name != "__pycache__")
                for name in sorted(files):
                    path = os.path.join(folder, name)
                    digest.update(os.path.relpath(path, COLLECTION_DIR).encode() + b"\0")
                    with open(path, "rb") as handle:
                        digest.update(hashlib.sha256(handle.read()).digest())
        _COLLECTION_DIGEST.append(digest.hexdigest())
    return _COLLECTION_DIGEST[0]


@contextlib.contextmanager
def templates_compiled_once():
    """Within, each distinct template is compiled once and its compiled form
    used again (ansible-core compiles a template at every use: checking many
    hosts in one task, the same checks and options, would compile each again
    for every host), and the Python code Jinja made of it is kept for the
    next run (plugin_utils/template_cache.py). Only successful compiles are
    kept (an error is raised as Ansible raises it, with the template's own
    origin), keyed by the template's text and the templating options (in
    this process also by the folders an include or import is looked up in); rendering is
    Ansible's, with each use's variables. Where ansible-core has no such
    compile step (another version's internals), nothing is kept and every
    template compiles as before."""
    try:
        from ansible._internal._templating._engine import TemplateEngine  # noqa: PLC0415
        from ansible._internal._templating._jinja_bits import AnsibleTemplate, _TemplateCompileContext  # noqa: PLC0415
    except ImportError:
        yield
        return
    original = getattr(TemplateEngine, "_compile_template", None)
    if original is None:
        yield
        return
    compiled = {}
    # Kept from run to run where ansible-core compiles as this code knows it.
    known = all(hasattr(TemplateEngine, name) for name in ("_create_overlay", "_defer_jinja_compile_error"))
    store = template_cache.Store() if known else None

    def kept(self, template, options):
        """As ansible-core's _compile_template, from the code a run before
        made of the template (made and kept now if no run did); None where
        Ansible compiles it itself (the template debugger). A compile error
        is Ansible's: raised when the template is used, never kept."""
        try:
            stripped, env = self._create_overlay(template, options.overrides)
            if getattr(env, "_debuggable_template_source", False):
                return None
            # The code is the text's and the options' alone (the folder is read when it renders).
            digest = template_cache.key(str(template), options)
            code = store.get(digest)
            if code is None:
                with _TemplateCompileContext(escape_backslashes=options.escape_backslashes):
                    code = env.compile(stripped)
                store.add(digest, code)
            # What Jinja's from_string does with the code it compiled.
            return env.template_class.from_code(env, code, env.make_globals(None), None)
        except Exception as ex:  # noqa: BLE001 - as ansible-core: the error deferred to the template's use
            return self._defer_jinja_compile_error(ex, template, False)

    def compile_template(self, template, options):
        try:
            # The folders an include or import in the template is looked up
            # in are the environment's (a template action's own, or basedir).
            searchpath = getattr(getattr(self.environment, "loader", None), "searchpath", None)
            key = (str(template), options, self.basedir, tuple(searchpath or ()))
            hash(key)
        except TypeError:
            return original(self, template, options)
        if key not in compiled:
            result = (kept(self, template, options) if store is not None else None) or original(self, template, options)
            if not isinstance(result, AnsibleTemplate):
                return result
            compiled[key] = result
        return compiled[key]

    TemplateEngine._compile_template = compile_template
    try:
        yield
    finally:
        TemplateEngine._compile_template = original


# The magic variables every host of the play has alike at a task, set by the
# strategy (the play's hosts as the run has them) and the task executor.
PLAY_WIDE = ("ansible_play_hosts_all", "ansible_play_hosts", "ansible_play_batch", "ansible_search_path")


def batch_variables(task, task_vars, hosts):
    """(name, variables) for each host named: the task's own host's
    task_vars, another host's as the strategy would give them to its own run
    of the task (Ansible's variable manager, in this worker: the facts and
    set_facts of the play so far). For an action that does in one task, with
    run_once, what each host's task would do alone: see
    templates_compiled_once."""
    if not isinstance(hosts, list) or not hosts:
        raise AnsibleError("pydeploy.wsgi: hosts is a list of the play's hosts (ansible_play_batch)")
    manager = task.get_variable_manager()
    inventory = getattr(manager, "_inventory", None)
    for name in hosts:
        if name == task_vars.get("inventory_hostname"):
            yield name, task_vars
            continue
        host = inventory.get_host(name) if inventory is not None and isinstance(name, str) else None
        if host is None:
            raise AnsibleError(f"pydeploy.wsgi: hosts lists the play's hosts (got {name!r})")
        variables = manager.get_vars(play=task.get_play(), host=host, task=task)
        variables.update({key: task_vars[key] for key in PLAY_WIDE if key in task_vars})
        yield name, variables


def roles_to_check(templar, args, variables):
    """The roles a task names for one host: its roles, or the value of the
    variable its roles_var names, templated with the host's variables."""
    if ("roles" in args) == ("roles_var" in args):
        raise AnsibleError("pydeploy.wsgi: give roles or roles_var, one of them")
    if "roles" in args:
        return args["roles"]
    name = args["roles_var"]
    return resolved(templar, variables, [name]).get(name)
