# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Action of pydeploy.wsgi.check_inputs: every listed role's input, in one task.

For each role of this collection listed, in order: its variables (its
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

import os

from ansible.errors import AnsibleError, AnsibleTemplateError, AnsibleUndefinedVariable
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

COLLECTION = "pydeploy.wsgi."
# This file is <collection>/plugins/action/check_inputs.py.
ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")
# What meta/checks.yml may hold.
CHECKS_KEYS = {"vars", "checks", "preflight", "tasks"}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("roles", "entry_point"))

    def _load(self, role_dir, *parts, required=True):
        path = os.path.join(role_dir, *parts)
        if not os.path.isfile(path):
            if required:
                raise AnsibleError(f"pydeploy.wsgi.check_inputs: {path} is missing")
            return {}
        # The loader marks the files' strings as trusted templates, as for a role's own files.
        data = self._loader.load_from_file(path, trusted_as_template=True) or {}
        if not isinstance(data, dict):
            raise AnsibleError(f"pydeploy.wsgi.check_inputs: {path} must hold a mapping")
        return data

    def _role(self, name):
        if not isinstance(name, str) or not name.startswith(COLLECTION):
            raise AnsibleError(f"pydeploy.wsgi.check_inputs: roles lists roles of this collection, pydeploy.wsgi.<role> (got {name!r})")
        short = name[len(COLLECTION):]
        role_dir = os.path.join(ROLES_DIR, short)
        if not short.isidentifier() or not os.path.isdir(role_dir):
            raise AnsibleError(f"pydeploy.wsgi.check_inputs: no role {name}")
        checks = self._load(role_dir, "meta", "checks.yml", required=False)
        unknown = set(checks) - CHECKS_KEYS
        if unknown:
            raise AnsibleError(f"pydeploy.wsgi.check_inputs: {name}'s meta/checks.yml: unknown keys {sorted(unknown)}")
        return {
            "name": name,
            "defaults": self._load(role_dir, "defaults", "main.yml", required=False),
            "vars": self._load(role_dir, "vars", "main.yml", required=False),
            "specs": self._load(role_dir, "meta", "argument_specs.yml").get("argument_specs", {}),
            "checks": checks,
        }

    def _spec_errors(self, role, entry_point, templar, variables):
        spec = role["specs"].get(entry_point)
        if spec is None:
            raise AnsibleError(f"pydeploy.wsgi.check_inputs: {role['name']} has no argument spec entry point {entry_point!r}")
        options = spec.get("options") or {}
        # As Ansible's role argument validation does: the values the role would see, templated.
        provided = templar.template({name: variables[name] for name in options if name in variables})
        result = ArgumentSpecValidator(options).validate(provided, validate_role_argument_spec=True)
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

    def _check_errors(self, role, templar, variables, warnings):
        checks = role["checks"]
        errors = []
        for check in checks.get("checks") or []:
            # A check with a loop is evaluated for each item, as item.
            extras = [{"item": item} for item in self._evaluate(templar, check["loop"], variables, None)] if "loop" in check else [{}]
            for extra in extras:
                if not self._holds(templar, check["ok"], variables, extra):
                    errors.append(" ".join(str(self._evaluate(templar, check["msg"], variables, extra)).split()))
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
        if not isinstance(names, list):
            raise AnsibleError("pydeploy.wsgi.check_inputs: roles must be a list of roles")
        roles = [self._role(name) for name in names]

        # What the roles' tasks would see: their defaults below the play's
        # variables, their vars above (where the play has not loaded them:
        # site.yml imports its roles, so the play has them already).
        variables = {}
        for role in roles:
            variables.update(role["defaults"])
        variables.update(task_vars)
        for role in roles:
            for name, value in role["vars"].items():
                variables.setdefault(name, value)
        templar = self._templar.copy_with_new_env(available_variables=variables)

        failures = []
        warnings = []
        tasks = []
        for role in roles:
            templar_vars = variables
            local = role["checks"].get("vars") or {}
            if local:
                templar_vars = {**variables, **local}
            role_templar = templar.copy_with_new_env(available_variables=templar_vars) if local else templar
            try:
                errors = self._spec_errors(role, entry_point, role_templar, templar_vars)
                if not errors:
                    errors = self._check_errors(role, role_templar, templar_vars, warnings)
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
        result["checked_roles"] = names
        result["tasks"] = tasks
        if warnings:
            result["warnings"] = warnings
        if failures:
            result["failed"] = True
            result["msg"] = "; ".join(failures)
        else:
            result["msg"] = f"The input of {len(roles)} roles passed their argument specs and checks"
        return result
