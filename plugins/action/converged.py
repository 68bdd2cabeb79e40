# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Action of pydeploy.wsgi.converged: the run's input as digests, then the
module compares them (and what the roles manage on the host) with the record
of the last complete run, or records them.

The input of each listed role is what its argument spec's options hold for
this host, templated (what check_inputs validated), and the content of the
controller's files it reads (its __<role>_controller_files); with it the
digest of the collection's own files, the facts the roles read outside their options, and
the named inputs the task gives (the release, the parts the host plays). What
the roles manage on the host is each role's __<role>_watch (its vars/main.yml),
templated, with the packages and accounts every role depends on.

Only digests leave the controller, and the module's answer holds none.
"""

from __future__ import annotations

import hashlib
import json

from ansible.errors import AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.pydeploy.wsgi.plugins.plugin_utils.roles import (
    batch_variables, collection_digest, load_roles, options, provided, resolved, role_reader, role_variables, roles_to_check,
    templates_compiled_once,
)

# What every role's state depends on: the installed packages, the accounts.
BASE_WATCH = {"files": ["/var/lib/dpkg/status", "/etc/passwd", "/etc/group"]}
WATCH_KEYS = ("trees", "files", "listings", "units")
# Facts the roles read outside their options' defaults.
FACTS = ("distribution", "distribution_major_version", "nodename", "architecture")


def digest(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8", "surrogateescape")).hexdigest()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("roles", "roles_var", "hosts", "prepared", "path", "state", "inputs", "watch", "max_age", "enabled"))

    def _content_digest(self, path):
        """A controller file's SHA-256, found as the roles' copy and file
        lookups find it (absolute, or in the play's files/ and folder)."""
        try:
            found = self._find_needle("files", path)
        except AnsibleError:
            return "missing"
        with open(found, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()

    def _roles_input(self, roles, task_vars):
        """What the roles give the record for one host: each role's input as
        a digest (its options as the host sees them, templated, and the
        content of the controller's files it reads), and what it manages on
        the host (its __<role>_watch, templated), role by role."""
        # What is digested below, and the variables it reads, templated once each.
        variables = resolved(self._templar, role_variables(roles, task_vars), [
            name for role in roles
            for name in [*options(role, "validate"), f"__{role['short']}_controller_files", f"__{role['short']}_watch"]
        ])
        templar = self._templar.copy_with_new_env(available_variables=variables)
        digests = {}
        watches = []
        for role in roles:
            # The role's options, and the content of the controller's
            # files it reads (__<role>_controller_files: a certificate
            # given as a path changes without its path changing).
            files = templar.template(variables.get(f"__{role['short']}_controller_files") or [])
            contents = {str(path): self._content_digest(str(path)) for path in files}
            digests[role["name"]] = digest({"options": provided(role, "validate", templar, variables), "files": contents})
            declared = variables.get(f"__{role['short']}_watch")
            if declared is None:
                raise AnsibleError(f"pydeploy.wsgi.converged: {role['name']} declares nothing it manages (__{role['short']}_watch)")
            declared = templar.template(declared)
            watches.append({key: [str(item) for item in declared.get(key) or []] for key in WATCH_KEYS})
        return {"roles": [role["name"] for role in roles], "digests": digests, "watches": watches}

    def _prepare(self, args, task_vars):
        """With hosts: each host's roles' input (_roles_input) in this one
        task, the same templates compiled once for all, for each host's own
        check to take as prepared."""
        read = role_reader(self._loader)
        prepared = {}
        with templates_compiled_once():
            for name, variables in batch_variables(self._task, task_vars, args["hosts"]):
                try:
                    prepared[name] = self._roles_input(read(roles_to_check(self._templar, args, variables)), variables)
                except AnsibleError:
                    # Left to the host's own check, which works it out again and fails there, in its own output
                    # (this task's is hidden).
                    continue
        return {"changed": False, "hosts": prepared, "msg": f"The roles' input of {len(prepared)} of {len(args['hosts'])} hosts, as digests"}

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        if "hosts" in args:
            result.update(self._prepare(args, task_vars))
            return result
        state = args.get("state", "check")
        module_args = {
            "path": args.get("path"),
            "state": state,
            "max_age": args.get("max_age", 86400),
            "enabled": boolean(args.get("enabled", True), strict=True),
        }
        if state != "absent" and module_args["enabled"]:
            extra = args.get("inputs") or {}
            if not isinstance(extra, dict):
                raise AnsibleError("pydeploy.wsgi.converged: inputs must be a mapping of names to values")
            names = roles_to_check(self._templar, {"roles": []} if not {"roles", "roles_var"} & set(args) else args, task_vars)
            prepared = args.get("prepared")
            if not (isinstance(prepared, dict) and prepared.get("roles") == names):
                # Not prepared for these roles (no prepare task, or another host's list): worked out here.
                prepared = self._roles_input(load_roles(self._loader, names), task_vars)
            facts = task_vars.get("ansible_facts") or {}
            inputs = {
                "collection": collection_digest(),
                "facts": digest({name: facts.get(name) for name in FACTS}),
                "host": digest(task_vars.get("inventory_hostname")),
            }
            inputs.update({f"input {name}": digest(value) for name, value in extra.items()})
            given = args.get("watch") or {}
            if not isinstance(given, dict) or set(given) - set(WATCH_KEYS):
                raise AnsibleError(f"pydeploy.wsgi.converged: watch is a mapping of {', '.join(WATCH_KEYS)}")
            watch = {key: list(BASE_WATCH.get(key, [])) + [str(item) for item in given.get(key) or []] for key in WATCH_KEYS}
            inputs.update(prepared["digests"])
            for declared in prepared["watches"]:
                for key in WATCH_KEYS:
                    watch[key].extend(item for item in declared[key] if item not in watch[key])
            module_args.update(inputs=inputs, watch=watch)
        answer = self._execute_module(module_name="pydeploy.wsgi.converged", module_args=module_args, task_vars=task_vars)
        # The module's arguments (digests, paths) are no one's business in the output.
        answer.pop("invocation", None)
        result.update(answer)
        return result
