# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Action of pydeploy.wsgi.run_lock: who this run is, and the waiting.

The run is the ansible-playbook process (the parent of the worker this
action runs in), named by controller, process id and the process's start
time, so that a process id reused later is another run. A lock held by a run
of this controller that is no longer running (interrupted: Ctrl-C, a lost
connection, a killed CI job) is taken over; a lock held by a live run, or by
another controller, is waited for until the timeout, then the task fails
naming the holder. A task may name the holder itself (to act for another
run) and the id of a gone holder to take over (a run of another controller
known to be over).

"This controller" is where the holder's process id names a process this
action can look at: the same kernel boot and the same PID namespace
(controller_namespace), not the same host name. Two controllers of one
name (containers on one machine, a CI runner with the host's network, two
laptops called "debian") see other processes under the same numbers: a
live run of the other would look gone, and its lock be taken while it
deploys. Without /proc (a macOS controller) no holder is known gone.
"""

from __future__ import annotations

import datetime
import getpass
import os
import socket
import time

from ansible.plugins.action import ActionBase


def _started(pid):
    """The process's start time (clock ticks since boot), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return None


def _run_id(pid):
    return f"{socket.gethostname()}:{pid}:{_started(pid)}"


def controller_namespace():
    """The kernel boot and PID namespace whose process ids this controller's
    runs are named by ("<boot id>:<namespace inode>"); None without /proc."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            boot = handle.read().strip()
        return f"{boot}:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return None


def this_run():
    pid = os.getppid()
    return {
        "id": _run_id(pid),
        "controller": socket.gethostname(),
        "namespace": controller_namespace(),
        "pid": pid,
        "user": getpass.getuser(),
        "since": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def gone(holder):
    """A run of this controller that is no longer running: its process id
    looked up where it was taken (the same boot and PID namespace), never
    by the host name alone."""
    mine = controller_namespace()
    if mine is None or holder.get("namespace") != mine or holder.get("controller") != socket.gethostname():
        return False
    if not holder.get("pid"):
        return False
    pid = int(holder["pid"])
    return _started(pid) is None or _run_id(pid) != holder.get("id")


def describe(holder):
    if holder.get("unreadable"):
        return "a run whose lock file is unreadable"
    return (
        f"{holder.get('user', '?')}@{holder.get('controller', '?')} "
        f"(ansible-playbook process {holder.get('pid', '?')}, since {holder.get('since', '?')})"
    )


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("path", "state", "timeout", "holder", "take_over"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        path = self._task.args["path"]
        state = self._task.args.get("state", "present")
        timeout = int(self._task.args.get("timeout", 300))
        holder = self._task.args.get("holder") or this_run()
        deadline = time.monotonic() + timeout
        take_over, tried = self._task.args.get("take_over") or "", set()
        while True:
            answer = self._execute_module(
                module_name="pydeploy.wsgi.run_lock",
                module_args={"path": path, "state": state, "holder": holder, "timeout": timeout, "take_over": take_over},
                task_vars=task_vars,
            )
            if answer.get("failed") or state == "absent" or answer.get("acquired") or self._task.check_mode:
                result.update(answer)
                # The run's own bookkeeping, not a change to what the host
                # serves: a converged host still reports changed=0.
                result["changed"] = False
                return result
            other = answer.get("holder") or {}
            if gone(other) and other.get("id") not in tried:
                take_over = other.get("id", "")
                tried.add(take_over)
                continue
            if time.monotonic() >= deadline:
                result.update(
                    failed=True,
                    holder=other,
                    msg=(
                        f"Another run of the playbooks holds {path} on this host: {describe(other)}. "
                        f"Waited {timeout} s (pydeploy_lock_timeout). If that run is not going on any more "
                        f"(interrupted on another controller), remove {path} on the host and run again."
                    ),
                )
                return result
            time.sleep(2)
