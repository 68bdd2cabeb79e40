"""Prints where `scripts/test --profile` spent its time.

    python3 scripts/profile_report.py .cache/test SCENARIO...

Reads, per scenario, from that folder: SCENARIO.steps (when each Molecule
step began, written by scripts/test), profile/SCENARIO.jsonl (one line per
ansible-playbook run, written by scripts/callback_plugins/task_profile.py)
and profile/SCENARIO.xml (the verify step's JUnit report). Prints one table
of seconds per step with the Ansible task counts, then each scenario's
slowest tests and tasks.
"""

import collections
import json
import pathlib
import sys
import xml.etree.ElementTree as ET

STEPS = ["destroy", "syntax", "create", "prepare", "converge", "idempotence", "verify"]


def step_windows(steps_file):
    """[(step, began, ended)] from the lines "<epoch> <step>" ending with "<epoch> end"."""
    marks = []
    for line in steps_file.read_text().splitlines():
        when, _, step = line.partition(" ")
        marks.append((float(when.replace(",", ".")), step))
    return [(step, began, ended) for (began, step), (ended, _) in zip(marks, marks[1:])]


def step_of(windows, when):
    for step, began, ended in windows:
        if began <= when < ended:
            return step
    return "-"


def main(folder, scenarios):
    folder = pathlib.Path(folder)
    header = f"{'scenario':<10}" + "".join(f"{s[:8]:>9}" for s in STEPS) + f"{'total':>8}{'tasks':>7}{'ansible':>9}{'s/task':>8}"
    print("\nPROFILE: seconds per Molecule step; Ansible tasks run (all playbooks, verify's included) and their seconds")
    print(header)
    details = []
    for scenario in scenarios:
        steps_file = folder / f"{scenario}.steps"
        if not steps_file.exists():
            print(f"{scenario:<10} (not run)")
            continue
        windows = step_windows(steps_file)
        per_step = collections.Counter()
        for step, began, ended in windows:
            per_step[step] += ended - began
        runs = []
        jsonl = folder / "profile" / f"{scenario}.jsonl"
        if jsonl.exists():
            runs = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
        tasks = sum(run["tasks"] for run in runs)
        seconds = sum(run["seconds"] for run in runs)
        total = sum(per_step.values())
        print(
            f"{scenario:<10}"
            + "".join(f"{per_step.get(step, 0):>9.0f}" for step in STEPS)
            + f"{total:>8.0f}{tasks:>7}{seconds:>9.0f}{(seconds / tasks if tasks else 0):>8.2f}"
        )
        details.append((scenario, windows, runs))

    for scenario, windows, runs in details:
        print(f"\n{scenario}:")
        by_step = collections.defaultdict(lambda: [0, 0, 0.0])
        for run in runs:
            entry = by_step[step_of(windows, run["started_at"])]
            entry[0] += 1
            entry[1] += run["tasks"]
            entry[2] += run["seconds"]
        for step, (count, tasks, seconds) in by_step.items():
            print(f"  {step:<12} {count:>3} playbook runs, {tasks:>5} tasks, {seconds:>6.0f} s")
        slow_tasks = collections.Counter()
        for run in runs:
            for name, seconds in run["slowest"]:
                slow_tasks[name] += seconds
        print("  slowest tasks (summed over runs):")
        for name, seconds in slow_tasks.most_common(5):
            print(f"    {seconds:7.1f} s  {name}")
        report = folder / "profile" / f"{scenario}.xml"
        if report.exists():
            cases = [
                (float(case.get("time", 0)), f"{case.get('classname', '').rpartition('.')[2]}::{case.get('name')}")
                for case in ET.parse(report).getroot().iter("testcase")
            ]
            print(f"  slowest tests (of {len(cases)}):")
            for seconds, name in sorted(cases, reverse=True)[:5]:
                print(f"    {seconds:7.1f} s  {name}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
