"""site.yml on a host as its last complete run left it: one check, and the
host's run ends there; a change to what the roles manage on the host, or to
their input, and the run goes through every task again
(docs/docsite/rst/shared-vars.rst, "An unchanged host"). The reason the check
gives is in its result, which -v prints.
"""

import re

from conftest import APP, changed_count, changed_tasks, run_playbook

LOCK = "TASK [Take or release the lock of the app on the host]"
RECORD = f"/var/lib/pydeploy/converged/{APP}.json"
CHECK = "Tell whether the host is as its last complete run left it"
END = "End the run of an unchanged host"
# Tasks that set facts for the tasks of a run that goes on.
READYING = (
    "Work out the parts the host plays (lb and app groups) and its roles",
    "pydeploy.wsgi.app : Name the release after its source and build inputs",
)


def recap_ok(out):
    return int(re.search(r"^pydeploy-default\s+: ok=(\d+)", out, re.M).group(1))


def reason(out):
    found = re.findall(r"^\s*reason: (.*)$", out, re.M)
    assert found, out[-3000:]
    return found[0].strip().strip("'\"")


def spared(out):
    """The run ended the host after the check, nothing changed."""
    assert changed_count(out) == 0, changed_tasks(out) or out[-3000:]
    assert LOCK not in out, out[-3000:]
    assert reason(out).startswith("unchanged since the complete run of "), out[-3000:]
    # The input checks, the source, the check: a handful of tasks, not ~150.
    assert recap_ok(out) <= 12, out[-3000:]
    # The host's own tasks end at its check: none that only readies the
    # tasks after it (the parts the host plays, the release's name) runs.
    tasks = re.findall(r"^TASK \[(.*)\]", out, re.M)
    assert tasks[tasks.index(CHECK) + 1:] == [END], tasks
    assert not set(tasks) & set(READYING), tasks


def test_an_unchanged_host_is_checked_in_one_task(host):
    # The run before (a test's, or the idempotence step's) went through
    # every task and recorded the host; at worst this one does.
    rc, out = run_playbook("site.yml")
    assert rc == 0, out[-3000:]
    record = host.file(RECORD)
    assert record.user == "root" and record.mode == 0o600
    rc, out = run_playbook("site.yml", "-v")
    assert rc == 0, out[-3000:]
    spared(out)


def test_a_file_changed_by_hand_brings_every_task_back(host):
    site = f"/etc/nginx/sites-available/{APP}.conf"
    before = host.file(site).content_string
    host.check_output(f"echo '# changed by hand' >> {site}")
    rc, out = run_playbook("site.yml", "-v")
    assert rc == 0, out[-3000:]
    assert reason(out) == "tree /etc/nginx changed", out[-3000:]
    assert LOCK in out and changed_count(out) > 0, out[-3000:]
    assert host.file(site).content_string == before
    # Recorded again: the next run is spared.
    rc, out = run_playbook("site.yml", "-v")
    assert rc == 0, out[-3000:]
    spared(out)


def test_a_stopped_service_brings_every_task_back(host, http):
    host.check_output(f"systemctl stop {APP}.service {APP}.socket")
    rc, out = run_playbook("site.yml", "-v")
    assert rc == 0, out[-3000:]
    assert reason(out) == f"unit {APP}.socket changed", out[-3000:]
    assert host.service(f"{APP}.socket").is_running
    status, _, _ = http.get("https://localhost/health")
    assert status == 200


def test_another_input_is_seen_and_a_check_run_keeps_the_record(host):
    rc, out = run_playbook("site.yml", "--check", "-v", "-e", "nginx_client_max_body_size=3m")
    assert rc == 0, out[-3000:]
    assert reason(out) == "the input changed: pydeploy.wsgi.nginx", out[-3000:]
    assert changed_count(out) > 0, out[-3000:]
    assert host.file(RECORD).exists, "a check run removed the record"
    rc, out = run_playbook("site.yml", "-v")
    assert rc == 0, out[-3000:]
    spared(out)


def test_an_old_record_or_some_tags_go_through_every_task(host):
    rc, out = run_playbook("site.yml", "-v", "-e", "pydeploy_skip_unchanged_max_age=0")
    assert rc == 0, out[-3000:]
    assert reason(out) == "the last complete run is older than 0 s", out[-3000:]
    assert LOCK in out and changed_count(out) == 0, changed_tasks(out) or out[-3000:]
    # The roles of the other stacks end at their first step, taken on the
    # controller (playbooks/tasks/end-role.yml): none of their tasks (their
    # guarded files included) is run or skipped on this Nginx + Gunicorn
    # host. (Apache's second end step follows the role it imports, where
    # Ansible's end_role stops.)
    ended = "End the role on a host the play does not run it on"
    assert re.findall(r"^TASK \[pydeploy\.wsgi\.(?:uwsgi|apache) : (.*?)\]", out, re.M) == [ended] * 3, out[-3000:]
    assert not re.search(r"^TASK \[pydeploy\.wsgi\.guarded : .*(uWSGI|Apache)\]", out, re.M), out[-3000:]
    # Packages installed already are told by dpkg (pydeploy.wsgi.packages),
    # without ansible.builtin.apt opening APT's cache. (Python's task also
    # asks for package lists younger than an hour, which apt may update.)
    for task, names in [("python : Install Python and venv support", None), ("tls : Install the crypto library", "python3-cryptography"),
                        ("nginx : Install Nginx", "nginx"), ("logrotate : Install logrotate", "logrotate")]:
        result = re.search(rf"^TASK \[pydeploy\.wsgi\.{re.escape(task)}.*?\n(.*?)\n\n", out, re.M | re.S)
        assert result and "missing: []" in result.group(1), (task, out[-3000:])
        assert names is None or f"msg: 'Installed already: {names}'" in result.group(1), (task, result.group(1))
    # A run of some tags ends no host early, and is no complete run: it
    # leaves no record, and the next complete run records the host again.
    rc, out = run_playbook("site.yml", "-v", "--tags", "nginx")
    assert rc == 0, out[-3000:]
    assert LOCK in out and "pydeploy_skip_unchanged" in reason(out), out[-3000:]
    assert not host.file(RECORD).exists
    rc, out = run_playbook("site.yml")
    assert rc == 0 and LOCK in out, out[-3000:]
    assert host.file(RECORD).exists


def test_a_package_removed_by_hand_is_installed_again(host):
    # dpkg no longer lists it: pydeploy.wsgi.packages hands the task to
    # ansible.builtin.apt, which installs it.
    host.check_output("dpkg --remove logrotate")
    assert not host.package("logrotate").is_installed
    rc, out = run_playbook("site.yml", "-v", "--tags", "logrotate_packages")
    assert rc == 0, out[-3000:]
    result = re.search(r"^TASK \[pydeploy\.wsgi\.logrotate : Install logrotate\].*?\n(.*?)\n\n", out, re.M | re.S)
    assert result and result.group(1).startswith("changed:") and "- logrotate" in result.group(1), out[-3000:]
    assert host.package("logrotate").is_installed
