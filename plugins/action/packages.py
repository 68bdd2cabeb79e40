# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Action of pydeploy.wsgi.packages: dpkg first, ansible.builtin.apt where needed.

The module asks dpkg which of the packages are installed (and how old the
package lists are, where update_cache asks for them). Where every one is and
the lists are young enough, the task is done: nothing to install, nothing to
update, and APT's cache never opened. Anything else runs
ansible.builtin.apt with state present and the same options, whose result
is the task's.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("name", "update_cache", "cache_valid_time"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        # The module checks the options (its argument spec) and tells what dpkg and the lists' age say.
        probe = self._execute_module(module_name="pydeploy.wsgi.packages", module_args=dict(self._task.args), task_vars=task_vars)
        if probe.get("failed"):
            result.update(probe)
            return result
        if not probe["missing"] and probe["lists_fresh"]:
            result.update(changed=False, missing=[], msg=probe["msg"])
            return result
        # The same options mean the same to ansible.builtin.apt, their defaults included.
        result.update(self._execute_module(module_name="ansible.builtin.apt", module_args={**self._task.args, "state": "present"}, task_vars=task_vars))
        result["missing"] = probe["missing"]
        return result
