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
"""

from __future__ import annotations

from ansible.errors import AnsibleError, AnsibleTemplateError, AnsibleUndefinedVariable
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible_collections.pydeploy.wsgi.plugins.plugin_utils.roles import load_checks, load_roles, options, provided, resolved, role_variables


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("roles", "entry_point", "checks"))

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

    def _check_errors(self, checks, templar, variables, warnings):
        errors = []
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
        preflight = checks.get("preflight")
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

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        names = self._task.args.get("roles")
        entry_point = self._task.args.get("entry_point", "validate")
        roles = load_roles(self._loader, names)
        # The roles' options, and the variables they read, templated once each.
        variables = resolved(self._templar, role_variables(roles, task_vars), [name for role in roles for name in options(role, entry_point)])
        templar = self._templar.copy_with_new_env(available_variables=variables)

        failures = []
        warnings = []
        tasks = []
        if self._task.args.get("checks"):
            # The play's own checks, on the play's variables.
            checks = load_checks(self._loader, self._task.args["checks"])
            play_vars = {**task_vars, **(checks.get("vars") or {})}
            try:
                failures.extend(self._check_errors(checks, self._templar.copy_with_new_env(available_variables=play_vars), play_vars, warnings))
            except (AnsibleUndefinedVariable, AnsibleTemplateError) as ex:
                failures.append(f"could not check the input: {ex.message}")
        shared_failed = bool(failures)
        for role in roles if not shared_failed else []:
            templar_vars = variables
            local = role["checks"].get("vars") or {}
            if local:
                templar_vars = {**variables, **local}
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

        result["changed"] = False
        result["checked_roles"] = names if not shared_failed else []
        result["tasks"] = tasks
        if warnings:
            result["warnings"] = warnings
        if failures:
            result["failed"] = True
            result["msg"] = "; ".join(failures)
        else:
            result["msg"] = f"The input of {len(roles)} roles passed their argument specs and checks"
        return result
