#!/usr/bin/python
# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: check_inputs
short_description: Check the input of this collection's roles, every role in one task
description:
  - First evaluates the play's own checks, if O(checks) names a checks file; where they fail, no role is checked.
  - Then, for each role listed, in order, validates the variables the role would see against its argument spec
    (C(meta/argument_specs.yml), the entry point O(entry_point)), then evaluates its checks
    (C(meta/checks.yml)); every failure of every role is named at once, prefixed by the role.
  - The variables are the role's defaults below the play's variables, and its C(vars/main.yml) where the play
    does not have them already (a play that imports the role has them).
  - A role's C(meta/checks.yml) holds C(checks), a list of C(ok) (a template giving true or false) and C(msg)
    (what is wrong, naming the variable), optionally with a C(loop) whose items each check sees as C(item),
    a C(when) (a template; the check is skipped where it gives false), C(gate) (where such a check fails, no
    later check is evaluated, since they read what it checks) or C(warn) (a failing such check only warns);
    C(ranges), whole numbers within bounds (a variable mapped to C(min), and C(max), C(unit), what C(zero) means,
    C(why)), each made a check with its message before the others (for example
    C(uwsgi_buffer_size must be 4096 to 65535 bytes (got 1024))); C(vars), helper variables for its templates;
    C(preflight), named checks an operator may waive by listing
    their names in the variable C(preflight.waivers) names (a waived check gives a warning); and C(tasks), the
    role's tasks files (C(file), without C(.yml)) to run after the checks when their C(when) holds, for the checks
    that need a module (the host or the controller's files). Those are returned in RV(tasks), for the play to include.
  - A role whose argument spec fails does not have its checks evaluated, since they would read values of the wrong type.
  - Runs on the controller only; never changes anything.
version_added: 1.1.0
author: pydeploy.wsgi contributors (@pydeploy)
options:
  roles:
    description:
      - The roles whose input to check, as V(pydeploy.wsgi.<role>).
      - One of O(roles) and O(roles_var) is required.
    type: list
    elements: str
  roles_var:
    description:
      - The name of a variable holding the roles to check, read for each host checked (its own stack's roles, where
        the hosts of O(hosts) run different ones).
      - One of O(roles) and O(roles_var) is required.
    type: str
    version_added: 1.2.0
  hosts:
    description:
      - "The hosts to check, each with its own variables, in this one task (give it C(run_once), and the play's batch,
        V({{ ansible_play_batch }})): the checks and the roles' options are the same templates on every host,
        compiled once for them all instead of once a host."
      - The task then fails only where its own arguments are wrong; each host's verdict is in RV(hosts), for the
        play to fail each host whose input failed (see the examples). Each warning is given once, naming the hosts
        it concerns where not all.
      - Without it, the host the task runs for is checked, and the task fails where its input does.
    type: list
    elements: str
    version_added: 1.2.0
  entry_point:
    description: The argument spec entry point the variables are validated against.
    type: str
    default: validate
  checks:
    description:
      - The play's own checks, evaluated on the play's variables before the roles'; a file of this collection, named
        by its path in the collection (V(playbooks/checks/inputs.yml), the playbooks' checks of the shared variables).
      - It holds C(checks), C(ranges) and C(vars), as a role's C(meta/checks.yml) does.
    type: str
    version_added: 1.1.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Check the playbooks' shared variables and the input of the roles a play runs, before any change
  pydeploy.wsgi.check_inputs:
    checks: playbooks/checks/inputs.yml
    roles: [pydeploy.wsgi.app, pydeploy.wsgi.gunicorn]

- name: Check the input of the roles a play runs, before any change
  pydeploy.wsgi.check_inputs:
    roles: [pydeploy.wsgi.app, pydeploy.wsgi.gunicorn]
  register: inputs

- name: Run the checks that need a module
  ansible.builtin.include_role:
    name: "{{ item.role }}"
    tasks_from: "{{ item.file }}"
  loop: "{{ inputs.tasks }}"

- name: Check the input of every host of the batch in one task, each host against its own stack's roles
  pydeploy.wsgi.check_inputs:
    roles_var: checked_roles
    hosts: "{{ ansible_play_batch }}"
  run_once: true
  register: inputs

- name: Stop a host whose input failed its checks
  ansible.builtin.fail:
    msg: "{{ inputs.hosts[inventory_hostname].msg }}"
  when: inputs.hosts[inventory_hostname].failed | default(false)
"""

RETURN = r"""
checked_roles:
  description: The roles whose input was checked.
  returned: without O(hosts)
  type: list
  elements: str
tasks:
  description: The roles' tasks files to run next (the checks that need a module), each a C(role) and a C(file).
  returned: without O(hosts)
  type: list
  elements: dict
hosts:
  description:
    - Each host's verdict, by its inventory name, where O(hosts) is given. C(failed) (true where its input failed) and
      C(msg) (every failure of the host, or that all passed), C(checked_roles), C(tasks) and C(warnings) (where any)
      as the task returns them for one host.
  returned: with O(hosts)
  type: dict
  version_added: 1.2.0
"""
