"""A check run (--check --diff) of the scenario's own converge playbook
finds nothing to change on the hosts it converged, in every scenario
(molecule.yml: additional_files_or_dirs) but apache, whose own check run
comes last, after its deploys and rollback. Molecule lists these shared files
before the scenario's own tests, so it runs first, on the converged hosts."""

import os
import re

from conftest import changed_count, changed_tasks, run_playbook


def test_check_mode_on_converged_hosts_changes_nothing():
    converge = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
    # Every task, not the record of the last complete run: what they would do.
    rc, out = run_playbook(converge, "--check", "--diff", "-e", "pydeploy_skip_unchanged=false")
    assert rc == 0, out[-3000:]
    assert re.search(r"ok=[1-9]", out), out[-3000:]
    assert changed_count(out) == 0, changed_tasks(out) or out[-3000:]
    # --diff printed no difference either.
    assert not re.search(r"^[-+]{3} (before|after)", out, re.M), out[-3000:]
