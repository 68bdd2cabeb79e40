"""Test helper: interrupts ansible-playbook as Ctrl-C would, when the task
named in PYDEPLOY_INTERRUPT_AT (a substring of its name) is about to start on
its first host. Enabled only by the tests' run_playbook(interrupt_at=...)."""

import os
import signal

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: interrupt
type: aggregate
short_description: interrupt the run before a named task (tests only)
description: Sends SIGINT to ansible-playbook before the task named in PYDEPLOY_INTERRUPT_AT starts.
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
            os.kill(os.getpid(), signal.SIGINT)
