"""Test helper: cuts ansible-playbook short, as a controller that dies or
loses its session would, when the task named in PYDEPLOY_INTERRUPT_AT (a
substring of its name) is about to start on its first host. Enabled only by
the tests' run_playbook(interrupt_at=...), which starts the run in a process
group of its own.

SIGKILL to the whole group, not SIGINT: ansible-core 2.19 handles Ctrl-C
unevenly (it may stop the task only and go on, ansible/ansible#86078), and
one run in a CI job of ours never ended after it; a kill ends the run at
that point every time, and nothing of it (no always section, no handler)
runs afterwards, which is the harder case for the next run to complete."""

import os
import signal
import sys

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: interrupt
type: aggregate
short_description: kill the run before a named task (tests only)
description: Kills ansible-playbook's process group before the task named in PYDEPLOY_INTERRUPT_AT starts.
requirements: [enabled in callbacks_enabled]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "interrupt"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_task_start(self, task, is_conditional):
        name = os.environ.get("PYDEPLOY_INTERRUPT_AT", "")
        if name and name in task.get_name():
            self._display.display(f"INTERRUPTING before: {task.get_name()}")
            sys.stdout.flush()
            sys.stderr.flush()
            os.killpg(os.getpgid(0), signal.SIGKILL)
