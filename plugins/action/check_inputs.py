# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Action of pydeploy.wsgi.check_inputs: every listed role's input, in one task.

First the play's own checks, if named (a checks file of the collection);
where they fail, no role is checked. Then, for each role of this collection listed, in order: its variables (its
defaults under what the play has, its vars/main.yml over them where the play
has not loaded them already) are validated against the role's argument spec
(the entry point asked for, "validate" by default), then its checks
(meta/checks.yml) are evaluated. Every failure of every role is named at
once; a role whose argument spec fails skips its checks, whose expressions
could not make sense of the values.

One task instead of an include_role per role and a task per check: the
checks are what site.yml, deploy.yml and rollback.yml pay before every run.
With hosts, one task for every host of the play's batch, in this one worker:
each host's variables as Ansible's variable manager puts them together for
it, the same templates compiled once for all (templates_compiled_once), each
host's verdict returned for the play to fail the hosts whose input failed.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleError, AnsibleTemplateError, AnsibleUndefinedVariable
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template
from ansible_collections.pydeploy.wsgi.plugins.plugin_utils.roles import (
    batch_variables, checks_reads, load_checks, options, provided, resolved, role_reader, role_variables, roles_to_check,
    templates_compiled_once,
)


# A template that is one expression, {{ ... }}, and nothing else.
_EXPRESSION = re.compile(r"\A\s*\{\{(?P<expression>.*)\}\}\s*\Z", re.S)


def _expression(template):
    """The expression of a check's template, or None where it is more than one."""
    match = _EXPRESSION.match(template) if isinstance(template, str) else None
    if match is None or any(mark in match["expression"] for mark in ("{{", "}}", "{%", "%}", "{#")):
        return None
    return match["expression"]


def _all_hold_template(checks):
    """One template that evaluates every check of a list (its when, its loop,
    its ok) and gives a letter for each: p where it holds, f where it fails,
    x where a condition is not true or false. None where a check's template
    is not one expression."""
    parts = []
    for check in checks:
        expressions = {key: _expression(check[key]) for key in ("ok", "loop", "when") if key in check}
        if None in expressions.values():
            return None
        part = f"{{% set __pydeploy_ok = ({expressions['ok']}) %}}{{% if __pydeploy_ok is sameas true %}}p{{% else %}}f{{% endif %}}"
        if "loop" in expressions:
            part = f"{{% for item in ({expressions['loop']}) %}}{part}{{% endfor %}}"
        if "when" in expressions:
            part = (
                f"{{% set __pydeploy_when = ({expressions['when']}) %}}{{% if __pydeploy_when is sameas true %}}{part}"
                "{% elif __pydeploy_when is not sameas false %}x{% endif %}"
            )
        parts.append(part)
    return trust_as_template("".join(parts))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("roles", "roles_var", "entry_point", "checks", "hosts"))

    def _spec_errors(self, role, entry_point, templar, variables):
        result = ArgumentSpecValidator(options(role, entry_point)).validate(
            provided(role, entry_point, templar, variables), validate_role_argument_spec=True
        )
        return list(result.error_messages)

    @staticmethod
    def _evaluate(templar, template, variables, extra):
        if extra:
            return templar.copy_with_new_env(available_variables={**variables, **extra}).template(template)
        return templar.template(template)

    def _holds(self, templar, template, variables, extra):
        """A check's condition: a template that must give true or false."""
        value = self._evaluate(templar, template, variables, extra)
        if not isinstance(value, bool):
            raise AnsibleError(f"pydeploy.wsgi.check_inputs: a check gave {value!r}, not true or false: {template!r}")
        return value

    @staticmethod
    def _all_hold(templar, checks):
        """Whether every check of a list holds, told by one template for them
        all (one compile and one render instead of one for each condition:
        the checks are what every run pays on every host). False where any
        fails, errs or cannot be told so: the checks are then evaluated one
        by one, for their messages, warnings and gates."""
        template = _all_hold_template(checks)
        if template is None:
            return False
        try:
            letters = templar.template(template)
        except AnsibleError:
            return False
        return isinstance(letters, str) and set(letters) <= {"p"}

    def _check_errors(self, checks, templar, variables, warnings):
        errors = []
        preflight = checks.get("preflight")
        if self._all_hold(templar, checks.get("checks") or []) and (
            not preflight or (not variables.get(preflight["waivers"]) and self._all_hold(templar, preflight.get("checks") or []))
        ):
            return errors
        for check in checks.get("checks") or []:
            if "when" in check and not self._holds(templar, check["when"], variables, None):
                continue
            # A check with a loop is evaluated for each item, as item.
            extras = [{"item": item} for item in self._evaluate(templar, check["loop"], variables, None)] if "loop" in check else [{}]
            failed = False
            for extra in extras:
                if not self._holds(templar, check["ok"], variables, extra):
                    message = " ".join(str(self._evaluate(templar, check["msg"], variables, extra)).split())
                    # A warning only; or an error.
                    (warnings if check.get("warn") else errors).append(message)
                    failed = not check.get("warn")
            if failed and check.get("gate"):
                # The checks after it read what it checks.
                return errors
        if preflight:
            # Named checks an operator may waive knowingly, by listing their names.
            waivers_var = preflight["waivers"]
            waivers = self._evaluate(templar, variables.get(waivers_var, []), variables, None) or []
            listed = preflight.get("checks") or []
            failing = [check["name"] for check in listed if not self._holds(templar, check["ok"], variables, None)]
            fixes = {check["name"]: " ".join(str(self._evaluate(templar, check["fix"], variables, None)).split()) for check in listed}
            for name in waivers:
                warnings.append(f"preflight check {name} is waived by {waivers_var} ({'it fails' if name in failing else 'it passes'}): {fixes.get(name, '')}")
            blocking = [name for name in failing if name not in waivers]
            if blocking:
                errors.append(
                    f"Preflight checks failed: {', '.join(blocking)}. {' '.join(fixes[name] for name in blocking)} "
                    f"To waive a check knowingly, list it in {waivers_var}."
                )
        return errors

    def _verdict(self, task_vars, names, entry_point, roles_of, play_checks):
        """One host's verdict on its variables: (failures, warnings, the
        checks that need a module, the roles checked)."""
        roles = roles_of(names)
        failures = []
        warnings = []
        tasks = []
        if play_checks is not None:
            # The play's own checks, on the play's variables: those they read templated once each (and kept for
            # the roles' below).
            play_vars = resolved(self._templar, {**task_vars, **(play_checks.get("vars") or {})}, checks_reads(play_checks))
            try:
                failures.extend(self._check_errors(play_checks, self._templar.copy_with_new_env(available_variables=play_vars), play_vars, warnings))
            except (AnsibleUndefinedVariable, AnsibleTemplateError) as ex:
                failures.append(f"could not check the input: {ex.message}")
            task_vars = {name: play_vars[name] for name in task_vars}
        # The roles' options, the variables their checks read, and those these read, templated once each.
        variables = resolved(self._templar, role_variables(roles, task_vars), [
            name for role in roles for name in [*options(role, entry_point), *checks_reads(role["checks"])]
        ])
        templar = self._templar.copy_with_new_env(available_variables=variables)
        shared_failed = bool(failures)
        for role in roles if not shared_failed else []:
            templar_vars = variables
            local = role["checks"].get("vars") or {}
            if local:
                # The checks' own variables, templated once each too.
                templar_vars = resolved(templar, {**variables, **local}, [name for name in checks_reads(role["checks"]) if name in local])
            role_templar = templar.copy_with_new_env(available_variables=templar_vars) if local else templar
            try:
                errors = self._spec_errors(role, entry_point, role_templar, templar_vars)
                if not errors:
                    errors = self._check_errors(role["checks"], role_templar, templar_vars, warnings)
                if not errors:
                    # The checks that need a module: the role's tasks files, for the play to include.
                    tasks.extend(
                        {"role": role["name"], "file": entry["file"]}
                        for entry in role["checks"].get("tasks") or []
                        if self._holds(role_templar, entry["when"], templar_vars, None)
                    )
            except (AnsibleUndefinedVariable, AnsibleTemplateError) as ex:
                errors = [f"could not check the input: {ex.message}"]
            failures.extend(f"{role['name']}: {error}" for error in errors)
        return failures, warnings, tasks, (names if not shared_failed else [])

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        entry_point = args.get("entry_point", "validate")
        # Each role read once, whatever number of hosts checks it.
        roles_of = role_reader(self._loader)
        play_checks = load_checks(self._loader, args["checks"]) if args.get("checks") else None
        several = "hosts" in args
        hosts = args["hosts"] if several else [task_vars.get("inventory_hostname")]
        verdicts = {}
        with templates_compiled_once():
            for name, variables in batch_variables(self._task, task_vars, hosts):
                names = roles_to_check(self._templar, args, variables)
                failures, warnings, tasks, checked = self._verdict(variables, names, entry_point, roles_of, play_checks)
                verdict = {"checked_roles": checked, "tasks": tasks}
                if warnings:
                    verdict["warnings"] = warnings
                if failures:
                    verdict.update(failed=True, msg="; ".join(failures))
                else:
                    verdict["msg"] = f"The input of {len(names)} roles passed their argument specs and checks"
                verdicts[name] = verdict

        result["changed"] = False
        if not several:
            result.update(verdicts[hosts[0]])
            return result
        # Every host's verdict, for the play to fail each host whose input failed (its own task); the warnings
        # once each, naming the hosts they concern where not all.
        result["hosts"] = verdicts
        by_warning = {}
        for name, verdict in verdicts.items():
            for warning in verdict.get("warnings", []):
                by_warning.setdefault(warning, []).append(name)
        if by_warning:
            result["warnings"] = [warning if len(names) == len(hosts) else f"{', '.join(names)}: {warning}" for warning, names in by_warning.items()]
        failed = [name for name, verdict in verdicts.items() if verdict.get("failed")]
        result["msg"] = (f"The input of {len(failed)} of {len(hosts)} hosts failed: {', '.join(failed)}" if failed
                         else f"The input of {len(hosts)} hosts passed their argument specs and checks")
        return result
