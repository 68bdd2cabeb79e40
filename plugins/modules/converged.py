#!/usr/bin/python
# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: converged
short_description: Tell whether a host is as the last complete run left it, in one task
description:
  - Keeps a record of the last complete C(site.yml) run of an app on a host, made of digests of that run's input
    (each role's variables, the collection's own files, the release) and of what the host held when the run ended
    (the files, folders, links and units the roles manage, the installed packages, the accounts).
  - V(check) compares the record with this run's input and with the host as it is now. When both match and the
    record is younger than O(max_age), the host needs nothing and the play ends it after this one task. When anything
    differs, the record is removed (the run goes on to change the host) and RV(reason) names the first difference.
  - V(present) writes the record at the end of a complete run; V(absent) removes it.
  - Nothing is followed. Folders are walked through their file descriptors, each opened without following a link, and
    a link is recorded as the name it points to. Files are read only to be hashed; neither their content nor their
    digests are returned.
  - The record is written by root only, mode C(0600), in a folder of root's, replaced atomically.
version_added: 0.1.0
author: pydeploy.wsgi contributors (@pydeploy)
options:
  path:
    description: The record, in a folder of root's (created with mode C(0755) if missing). Required but with O(hosts).
    type: path
  state:
    description: V(check) compares, V(present) records, V(absent) removes.
    type: str
    choices: [check, present, absent]
    default: check
  roles:
    description:
      - The roles of this collection the run plays, as V(pydeploy.wsgi.<role>). Each one's input (its argument spec's
        options as the host sees them, templated) is part of the run's input, and what it manages on the host (the
        C(__<role>_watch) of its C(vars/main.yml)) is watched.
      - Read by the action plugin, on the controller.
    type: list
    elements: str
    default: []
  roles_var:
    description:
      - The name of a variable holding the roles, read for each host (with O(hosts), each host's own stack's roles).
        Instead of O(roles).
    type: str
    version_added: 1.2.0
  hosts:
    description:
      - "The hosts to work out the roles' input for, each with its own variables, in this one task and nothing else (no
        module runs, nothing is compared or written): give it C(run_once), the play's batch
        (V({{ ansible_play_batch }})) and C(no_log) (digests of variables that may hold secrets), and each host's entry
        of RV(hosts) to that host's own check as O(prepared). The roles' options are the same templates on every host,
        compiled once for them all. A host whose roles' input cannot be worked out is left out: its own check works it
        out again and fails in its own output."
    type: list
    elements: str
    version_added: 1.2.0
  prepared:
    description:
      - The host's entry of RV(hosts) of a task with O(hosts). Taken where it was worked out for the same roles as this
        task's; otherwise the action works the roles' input out itself, as without it.
    type: dict
    version_added: 1.2.0
  inputs:
    description:
      - More of the run's input beside the roles', by name (the release, the parts the host plays); any value.
      - Only digests reach the host, compared name by name, so that RV(reason) can say which one changed.
    type: dict
    default: {}
  watch:
    description:
      - What is watched on the host beside what the roles manage (the action plugin adds theirs, and the installed
        packages and the accounts).
      - C(trees) lists folders walked whole, each file's content hashed; C(files) lists paths whose content (a file)
        or own entry (a folder, a link) is kept; C(listings) lists folders whose own entry and direct entries (not
        their content) are kept; C(units) lists systemd units, whether each is active and enabled.
    type: dict
    default: {}
  max_age:
    description: Seconds after which a record no longer spares a run (the run goes through every task).
    type: int
    default: 86400
  enabled:
    description:
      - With V(false), V(check) removes the record and reports the host as changed (a run that goes through every
        task without looking at the record, or a run of some tags, which is no complete run).
    type: bool
    default: true
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
    details: In check mode the record is read and compared, never written or removed.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Tell whether anything changed since the last complete run
  pydeploy.wsgi.converged:
    roles: [pydeploy.wsgi.nginx, pydeploy.wsgi.tls]
    path: /var/lib/pydeploy/converged/hello.json
    inputs:
      release: "{{ release }}"
  register: converged

# Or, on many hosts: the roles' input of every host of the batch in one task
# (the same templates compiled once), each host's check taking its own.
- name: Work out the roles' input of every host
  pydeploy.wsgi.converged:
    roles: [pydeploy.wsgi.nginx, pydeploy.wsgi.tls]
    hosts: "{{ ansible_play_batch }}"
  run_once: true
  no_log: true
  register: roles_input

- name: Tell whether anything changed since the last complete run, with the input worked out above
  pydeploy.wsgi.converged:
    roles: [pydeploy.wsgi.nginx, pydeploy.wsgi.tls]
    prepared: "{{ roles_input.hosts[inventory_hostname] }}"
    path: /var/lib/pydeploy/converged/hello.json
    inputs:
      release: "{{ release }}"
  register: converged

- name: End the host when nothing changed
  ansible.builtin.meta: end_host
  when: converged.unchanged

# ... the play's tasks, then, at its end:
- name: Record the complete run
  pydeploy.wsgi.converged:
    roles: [pydeploy.wsgi.nginx, pydeploy.wsgi.tls]
    path: /var/lib/pydeploy/converged/hello.json
    inputs:
      release: "{{ release }}"
    state: present
"""

RETURN = r"""
unchanged:
  description: Whether the host is as the record says and the input the same (V(check)); V(false) otherwise.
  returned: without O(hosts)
  type: bool
reason:
  description: Why the host is not taken as unchanged (the first difference found), or when the record was made.
  returned: without O(hosts)
  type: str
  sample: /etc/nginx/sites-available/hello changed
hosts:
  description:
    - With O(hosts), each host's roles' input by its inventory name, for its own check's O(prepared) (the roles, a
      digest of each role's input, what each manages on the host). Digests of variables that may hold secrets, so
      give the task C(no_log).
  returned: with O(hosts)
  type: dict
  version_added: 1.2.0
"""

import hashlib
import json
import os
import stat
import time

from ansible.module_utils.basic import AnsibleModule

VERSION = 1
CHUNK = 1 << 20


def _entry(st):
    """A path's own entry: its type, mode and owners."""
    return f"{stat.S_IFMT(st.st_mode):o} {stat.S_IMODE(st.st_mode):o} {st.st_uid} {st.st_gid}"


def _hash_file(dir_fd, name, st):
    """The SHA-256 of a regular file, opened without following a link or
    blocking; a file swapped for something else meanwhile counts as changed."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0), dir_fd=dir_fd)
    except OSError as error:
        return f"unreadable {error.errno}"
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return "replaced"
        digest = hashlib.sha256()
        while True:
            chunk = os.read(fd, CHUNK)
            if not chunk:
                return digest.hexdigest()
            digest.update(chunk)
    finally:
        os.close(fd)


def _describe(dir_fd, name, content, depth):
    """One entry under dir_fd: its own entry, a link's target, a file's
    content (content=True), a folder's entries (depth 1: names and entries,
    depth -1: the whole tree)."""
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return "absent"
    parts = [_entry(st)]
    if stat.S_ISLNK(st.st_mode):
        parts.append("-> " + os.readlink(name, dir_fd=dir_fd))
    elif stat.S_ISREG(st.st_mode) and content:
        parts.append(_hash_file(dir_fd, name, st))
    elif stat.S_ISDIR(st.st_mode) and depth != 0:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
        except OSError as error:
            return f"unreadable {error.errno}"
        try:
            names = sorted(os.listdir(fd))
            digest = hashlib.sha256()
            for child in names:
                digest.update(f"{child}\0{_describe(fd, child, content, depth - 1)}\n".encode("utf-8", "surrogateescape"))
            parts.append(digest.hexdigest())
        finally:
            os.close(fd)
    return " ".join(parts)


def describe_path(path, content=True, depth=0):
    """What `path` holds, as a string: the same while it does not change.
    Every folder on the way is opened without following a link."""
    if not os.path.isabs(path) or "\0" in path:
        raise ValueError(f"not an absolute path: {path!r}")
    parts = [part for part in path.split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise ValueError(f"a path with . or ..: {path!r}")
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            try:
                next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                return "absent"
            except OSError as error:
                # A link or a file where a folder was: changed, never followed.
                return f"not a folder on the way ({part}): {error.errno}"
            os.close(fd)
            fd = next_fd
        return _describe(fd, parts[-1], content, depth) if parts else _describe(fd, ".", content, depth)
    finally:
        os.close(fd)


def unit_states(units, run_command):
    """Each unit's active and enabled state, from one systemctl call."""
    if not units:
        return {}
    rc, out, err = run_command(["systemctl", "show", "--property=Id,ActiveState,UnitFileState", "--", *units])
    if rc != 0:
        return {unit: f"systemctl failed: {err.strip()}" for unit in units}
    blocks = out.strip().split("\n\n")
    states = {}
    for unit, block in zip(units, blocks):
        values = dict(line.partition("=")[::2] for line in block.splitlines())
        states[unit] = f"{values.get('ActiveState', '')} {values.get('UnitFileState', '')}"
    for unit in units[len(blocks):]:
        states[unit] = "unknown"
    return states


def host_state(watch, run_command):
    """Every watched item, by name: what it holds now."""
    state = {}
    for path in watch.get("trees") or []:
        state[f"tree {path}"] = describe_path(path, content=True, depth=-1)
    for path in watch.get("files") or []:
        state[f"file {path}"] = describe_path(path, content=True, depth=0)
    for path in watch.get("listings") or []:
        state[f"listing {path}"] = describe_path(path, content=False, depth=1)
    for unit, value in unit_states(list(watch.get("units") or []), run_command).items():
        state[f"unit {unit}"] = value
    # What the watched items hold is recorded as digests only.
    return {name: hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest() for name, value in state.items()}


def read_record(path):
    """The record, or None: opened without following a link, root's alone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o077:
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            record = json.loads(handle.read(CHUNK * 4))
    except ValueError:
        return None
    finally:
        os.close(fd)
    return record if isinstance(record, dict) and record.get("version") == VERSION else None


def first_difference(record, inputs, watch, max_age, now, run_command):
    """Why the host is not as recorded, or None."""
    if record is None:
        return "no record of a complete run"
    age = now - float(record.get("time", 0))
    if age < 0 or age > max_age:
        return f"the last complete run is older than {max_age} s"
    recorded_inputs = record.get("inputs") or {}
    for name in sorted(set(recorded_inputs) | set(inputs)):
        if recorded_inputs.get(name) != inputs.get(name):
            return f"the input changed: {name}"
    if record.get("watch") != watch:
        return "what the roles manage changed"
    recorded_state = record.get("state") or {}
    for name, value in host_state(watch, run_command).items():
        if recorded_state.get(name) != value:
            return f"{name} changed"
    return None


def ensure_folder(path):
    """The record's folder: root's, not a link, writable by root alone."""
    folder = os.path.dirname(path)
    try:
        os.mkdir(folder, 0o755)
    except FileExistsError:
        pass
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
        raise PermissionError(f"{folder} must be a folder of root's, writable by root alone")


def remove(path):
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path"},
            "state": {"type": "str", "choices": ["check", "present", "absent"], "default": "check"},
            "roles": {"type": "list", "elements": "str", "default": []},
            # Read by the action plugin, on the controller.
            "roles_var": {"type": "str"},
            "hosts": {"type": "list", "elements": "str"},
            "prepared": {"type": "dict"},
            "inputs": {"type": "dict", "default": {}},
            "watch": {"type": "dict", "default": {}},
            "max_age": {"type": "int", "default": 86400},
            "enabled": {"type": "bool", "default": True},
        },
        # With hosts, the action works out the roles' input and calls no module.
        required_one_of=[("path", "hosts")],
        supports_check_mode=True,
    )
    path, state = module.params["path"], module.params["state"]
    inputs = {str(name): str(value) for name, value in module.params["inputs"].items()}
    watch = {key: [str(item) for item in module.params["watch"].get(key) or []] for key in ("trees", "files", "listings", "units")}
    now = time.time()
    try:
        if state == "absent" or (state == "check" and not module.params["enabled"]):
            if not module.check_mode:
                remove(path)
            reason = "the record is not used in this run (pydeploy_skip_unchanged false, or a run of some tags)" if state == "check" else "removed"
            module.exit_json(changed=False, unchanged=False, reason=reason)
        if state == "check":
            record = read_record(path)
            reason = first_difference(record, inputs, watch, module.params["max_age"], now, module.run_command)
            if reason is None:
                record_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(record["time"])))
                module.exit_json(changed=False, unchanged=True, reason=f"unchanged since the complete run of {record_time}")
            # The run goes on to change the host: the record no longer holds.
            if not module.check_mode:
                remove(path)
            module.exit_json(changed=False, unchanged=False, reason=reason)
        # present: the record of this complete run.
        if module.check_mode:
            module.exit_json(changed=False, unchanged=False, reason="not recorded in check mode")
        ensure_folder(path)
        record = {"version": VERSION, "time": now, "inputs": inputs, "watch": watch, "state": host_state(watch, module.run_command)}
        temporary = f"{path}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, sort_keys=True)
        os.replace(temporary, path)
        # The run's bookkeeping, not a change to what the host serves.
        module.exit_json(changed=False, unchanged=False, reason="recorded")
    except (OSError, ValueError) as error:
        module.fail_json(msg=f"pydeploy.wsgi.converged: {error}")


if __name__ == "__main__":
    main()
