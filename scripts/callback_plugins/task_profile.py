"""Records how many tasks each ansible-playbook run ran and how long they took.

Used by `scripts/test --profile`; not part of the collection. For each
playbook run it appends one JSON line to
$PYDEPLOY_PROFILE_DIR/<scenario>.jsonl: the scenario, the playbook, when
it started (the report finds the Molecule step from that), the number of
tasks started, the number of host results, the run's seconds and its
slowest tasks.
"""

import json
import os
import sys
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_profile
type: aggregate
short_description: counts tasks and their time per playbook run (pydeploy.wsgi test bed)
description:
  - Appends one JSON line per playbook run to $PYDEPLOY_PROFILE_DIR/<scenario>.jsonl.
requirements:
  - enabled in ANSIBLE_CALLBACKS_ENABLED, by scripts/test --profile
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_profile"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.playbook = None
        self.start = time.monotonic()
        self.started_at = time.time()
        self.tasks = 0
        self.results = 0
        self.current = None
        self.task_times = {}

    def v2_playbook_on_start(self, playbook):
        self.playbook = os.path.basename(playbook._file_name)
        self.start = time.monotonic()
        self.started_at = time.time()

    def _close_task(self):
        if self.current is not None:
            name, started = self.current
            self.task_times[name] = self.task_times.get(name, 0.0) + time.monotonic() - started
            self.current = None

    def _open_task(self, task):
        self._close_task()
        self.tasks += 1
        self.current = (task.get_name(), time.monotonic())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._open_task(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._open_task(task)

    def _result(self, *args, **kwargs):
        self.results += 1

    v2_runner_on_ok = v2_runner_on_failed = v2_runner_on_skipped = v2_runner_on_unreachable = _result

    def v2_playbook_on_stats(self, stats):
        self._close_task()
        directory = os.environ.get("PYDEPLOY_PROFILE_DIR")
        if not directory:
            return
        slowest = sorted(self.task_times.items(), key=lambda item: item[1], reverse=True)[:5]
        record = {
            "scenario": os.environ.get("MOLECULE_SCENARIO_NAME", "-"),
            "started_at": round(self.started_at, 2),
            "playbook": self.playbook,
            # The test that ran it (verify), and what narrowed the run.
            "test": os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0],
            "options": [arg for arg in sys.argv[1:] if arg in ("--check", "--diff") or arg.startswith("--tags=")]
            + [f"{arg} {value}" for arg, value in zip(sys.argv[1:], sys.argv[2:]) if arg in ("--tags", "--limit", "-t", "-l")],
            "tasks": self.tasks,
            "results": self.results,
            "seconds": round(time.monotonic() - self.start, 2),
            "slowest": [[name, round(seconds, 2)] for name, seconds in slowest],
        }
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"{record['scenario']}.jsonl"), "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
