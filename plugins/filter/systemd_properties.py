# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The systemd_properties filter: a sandbox as systemd-run --property arguments."""

from __future__ import annotations

DOCUMENTATION = r"""
name: systemd_properties
short_description: Turn a dict of systemd.exec(5) directives into systemd-run --property arguments
version_added: 1.1.0
author: pydeploy.wsgi contributors (@pydeploy)
description:
  - Each directive becomes C(--property=Name=value), sorted by name, written as in a unit file (as the roles' service
    templates write them), V(true) and V(false) as C(yes) and C(no), a list joined with spaces, V(null) left out.
  - So that a transient unit (a build, a trial, a migration) runs the app's code in the sandbox of its service.
options:
  _input:
    description: Directive name to value.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Run a command in the app's sandbox
  ansible.builtin.command:
    argv: "{{ ['systemd-run', '--wait', '--pipe'] + (app_sandbox | pydeploy.wsgi.systemd_properties) + ['--', 'true'] }}"
"""

RETURN = r"""
_value:
  description: The --property arguments.
  type: list
  elements: str
"""


def unit_value(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value)
    return str(value)


def systemd_properties(directives):
    return [f"--property={name}={unit_value(value)}" for name, value in sorted(directives.items()) if value is not None]


class FilterModule:
    def filters(self):
        return {"systemd_properties": systemd_properties}
