#!/usr/bin/python
# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_lock
short_description: Take or release a lock file on the host, one run at a time
description:
  - Keeps two runs of the collection's playbooks from changing one app on one host at the same time.
  - The lock is a file created with C(O_EXCL) holding who took it (controller, process, user, since when).
  - Use it through its action plugin, which waits a bounded time for a busy lock and takes over a lock whose
    holder was a run on the same controller that is no longer running (an interrupted run).
  - Tries once per call; the waiting is the action plugin's.
  - Never reports a change (the action plugin says C(changed=false)) since the lock is the run's own bookkeeping,
    not a change to what the host serves.
version_added: 0.1.0
author: pydeploy.wsgi contributors (@pydeploy)
options:
  path:
    description: The lock file, on a tmpfs such as C(/run/lock) so that a reboot clears it.
    type: path
    required: true
  state:
    description: V(present) takes the lock, V(absent) releases it if this run holds it.
    type: str
    choices: [present, absent]
    default: present
  holder:
    description: Who takes the lock; its C(id) key identifies the run.
    type: dict
    required: true
  timeout:
    description: Seconds to wait for a busy lock (the action plugin's).
    type: int
    default: 300
  take_over:
    description: The id of a holder known to be gone; its lock is replaced by this run's.
    type: str
    default: ""
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
    details: In check mode the lock is neither taken nor released; a busy lock is reported.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Take the app's lock on the host
  pydeploy.wsgi.run_lock:
    path: /run/lock/pydeploy-hello.lock
    timeout: 300
"""

RETURN = r"""
acquired:
  description: Whether this run holds the lock now.
  returned: always
  type: bool
holder:
  description: Who holds the lock (this run, or the one it waits for).
  returned: always
  type: dict
taken_over:
  description: The holder whose lock this run took over, if any.
  returned: when a lock was taken over
  type: dict
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule


def read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError:
        return {"id": "", "unreadable": True}


def write_new(path, holder):
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(holder, handle)


def replace(path, holder):
    partial = f"{path}.{os.getpid()}"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(holder, handle)
    os.chmod(partial, 0o644)
    os.replace(partial, path)


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "holder": {"type": "dict", "required": True},
            "timeout": {"type": "int", "default": 300},
            "take_over": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    path, holder = module.params["path"], module.params["holder"]
    current = read(path)
    mine = current is not None and current.get("id") == holder.get("id")
    if module.params["state"] == "absent":
        if mine and not module.check_mode:
            os.unlink(path)
        module.exit_json(changed=mine and not module.check_mode, acquired=False, holder=current or {})
    if mine:
        module.exit_json(changed=False, acquired=True, holder=current)
    if module.check_mode:
        module.exit_json(changed=False, acquired=current is None, holder=current or holder)
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    if current is None:
        try:
            write_new(path, holder)
            module.exit_json(changed=True, acquired=True, holder=holder)
        except FileExistsError:
            current = read(path) or {}
    if module.params["take_over"] and current.get("id") == module.params["take_over"]:
        replace(path, holder)
        module.exit_json(changed=True, acquired=True, holder=holder, taken_over=current)
    module.exit_json(changed=False, acquired=False, holder=current)


if __name__ == "__main__":
    main()
