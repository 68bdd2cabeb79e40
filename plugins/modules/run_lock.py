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
  - The lock's folder must be root's alone, every folder on its path a real folder (not a link) owned by root
    and writable by no one else; missing ones are created with mode C(0700). A world-writable folder such as
    C(/run/lock) is refused, since any local user (the app included) could block every run there.
  - The lock file is opened without following a link and without blocking; anything but a regular file of root's
    at its path is refused, naming it.
  - Use it through its action plugin, which waits a bounded time for a busy lock and takes over a lock whose
    holder was a run on the same controller that is no longer running (an interrupted run). The same controller
    is the same kernel boot and PID namespace, where the holder's process id names its process, not the same
    host name (controllers in containers on one machine, or machines of one name, are others).
  - Tries once per call; the waiting is the action plugin's.
  - Never reports a change (the action plugin says C(changed=false)) since the lock is the run's own bookkeeping,
    not a change to what the host serves.
version_added: 0.1.0
author: pydeploy.wsgi contributors (@pydeploy)
options:
  path:
    description: The lock file, on a tmpfs such as C(/run) so that a reboot clears it, in a folder of root's alone.
    type: path
    required: true
  state:
    description: V(present) takes the lock, V(absent) releases it if this run holds it.
    type: str
    choices: [present, absent]
    default: present
  holder:
    description:
      - Who takes (or releases) the lock; its C(id) key identifies the run.
      - By default this C(ansible-playbook) process, as the action plugin describes it (controller, its boot and
        PID namespace, process id, user, start time); give it only to act for another run.
    type: dict
  timeout:
    description: Seconds to wait for a busy lock (the action plugin's).
    type: int
    default: 300
  take_over:
    description:
      - The id of a holder known to be gone; its lock is replaced by this run's.
      - The action plugin finds a gone holder that was a run of this controller by itself; give the id of a run of
        another controller that you know is over.
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
    path: /run/pydeploy/lock/hello.lock
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
import stat

from ansible.module_utils.basic import AnsibleModule


class Refused(Exception):
    """The lock's path is not a root-only place: the message says why."""


def secure_folder(folder):
    """Walks the lock's folder from / down: each part must be a real folder
    of root's that no one else may write; a missing part is made 0700."""
    path = "/"
    for part in [p for p in folder.split("/") if p]:
        path = os.path.join(path, part)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                pass
            info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            raise Refused(f"{path} is a link: the lock's folder is reached without following links")
        if not stat.S_ISDIR(info.st_mode):
            raise Refused(f"{path} is not a folder")
        if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise Refused(
                f"{path} is owned by uid {info.st_uid} with mode {stat.S_IMODE(info.st_mode):04o}: the lock's folder "
                "must be root's alone (no one else may write there, or any local user could block every run)"
            )


def read(path):
    """The holder the lock file names; None if there is no lock."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        return None
    except OSError as error:
        # ELOOP: a link at the lock's path.
        raise Refused(f"{path} could not be opened without following a link ({error.strerror})") from error
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != 0:
            raise Refused(f"{path} is not a regular file of root's (mode {info.st_mode:o}, uid {info.st_uid})")
        try:
            holder = json.loads(handle.read(65536).decode("utf-8"))
        except ValueError:
            holder = None
    if not isinstance(holder, dict):
        return {"id": "", "unreadable": True}
    return holder


def write_new(path, holder):
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(holder, handle)


def replace(path, holder):
    partial = f"{path}.{os.getpid()}"
    fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(holder, handle)
    os.replace(partial, path)


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "holder": {"type": "dict"},
            "timeout": {"type": "int", "default": 300},
            "take_over": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    path, holder = module.params["path"], module.params["holder"]
    if not holder or not isinstance(holder.get("id"), str) or not holder["id"]:
        module.fail_json(msg="holder must be a dict with an id (the action plugin gives this run's)", path=path)
    try:
        if not module.check_mode:
            secure_folder(os.path.dirname(path))
        current = read(path)
    except Refused as error:
        module.fail_json(msg=f"The run's lock was refused: {error}.", path=path)
    mine = current is not None and current.get("id") == holder.get("id")
    if module.params["state"] == "absent":
        if mine and not module.check_mode:
            os.unlink(path)
        module.exit_json(changed=mine and not module.check_mode, acquired=False, holder=current or {})
    if mine:
        module.exit_json(changed=False, acquired=True, holder=current)
    if module.check_mode:
        module.exit_json(changed=False, acquired=current is None, holder=current or holder)
    if current is None:
        try:
            write_new(path, holder)
            module.exit_json(changed=True, acquired=True, holder=holder)
        except FileExistsError:
            try:
                current = read(path) or {}
            except Refused as error:
                module.fail_json(msg=f"The run's lock was refused: {error}.", path=path)
    if module.params["take_over"] and current.get("id") == module.params["take_over"]:
        replace(path, holder)
        module.exit_json(changed=True, acquired=True, holder=holder, taken_over=current)
    module.exit_json(changed=False, acquired=False, holder=current)


if __name__ == "__main__":
    main()
