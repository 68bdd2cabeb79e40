# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The unsafe_paths filter: which of an app's folder settings are no clean path of its own."""

from __future__ import annotations

import re

DOCUMENTATION = r"""
name: unsafe_paths
short_description: Name the path settings that are not a clean absolute path of the app's own
version_added: 1.1.0
author: pydeploy.wsgi contributors (@pydeploy)
description:
  - Takes a dict of setting names and paths; returns the names (sorted) whose path is not absolute and normalised
    (letters, digits, C(.), C(_), C(-) and C(/) only; no C(.) or C(..) part, no C(//), no trailing C(/)), is one of
    O(folders), or is one of O(trees) or below one.
  - The lists default to the system's own folders, the ones every role of this collection refuses for a folder an app
    or its server owns or writes into.
options:
  _input:
    description: Setting name to path.
    type: dict
    required: true
  folders:
    description:
      - Folders a setting may not be (it may be below them).
      - "Default: the system's top folders and those of C(/var) and C(/run) (C(/), C(/etc), C(/srv), C(/var/log),
        C(/var/lib), C(/run), C(/run/lock), ...)."
    type: list
    elements: str
  trees:
    description:
      - Folders a setting may be neither equal to nor below.
      - "Default: those of the kernel, the packages, root and the temporary files, and those other services and
        this collection keep (C(/usr), C(/root), C(/tmp), C(/etc/ssl), C(/etc/systemd), C(/etc/nginx),
        C(/etc/apache2), C(/var/log/nginx), C(/var/lib/pydeploy), ...)."
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Refuse an app folder that is a system folder, or inside one the system keeps
  ansible.builtin.assert:
    that: "{{ {'app_root': app_root} | pydeploy.wsgi.unsafe_paths | length == 0 }}"

- name: The same with lists of one's own
  ansible.builtin.assert:
    that: "{{ {'app_root': app_root} | pydeploy.wsgi.unsafe_paths(['/srv'], ['/etc/ssl']) | length == 0 }}"
"""

RETURN = r"""
_value:
  description: The names of the settings whose path is refused.
  type: list
  elements: str
"""

_CLEAN = re.compile(r"(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+\Z")
_DOTS = re.compile(r"(^|/)\.\.?(/|\Z)")


# Folders an app's or its server's folder may not be (it may be below them).
SYSTEM_FOLDERS = (
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/media", "/mnt", "/opt", "/proc", "/root", "/run",
    "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/log", "/var/cache", "/var/tmp", "/var/www",
    "/var/spool", "/var/mail", "/var/backups", "/var/opt", "/var/local", "/run/lock",
)
# Folders it may be neither equal to nor below.
SYSTEM_TREES = (
    "/proc", "/sys", "/dev", "/boot", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/root", "/tmp", "/var/tmp", "/run/lock",
    "/etc/ssl", "/etc/systemd", "/etc/nginx", "/etc/apache2", "/etc/letsencrypt", "/etc/pydeploy", "/etc/sudoers.d",
    "/etc/pam.d", "/etc/cron.d", "/etc/logrotate.d", "/etc/security", "/etc/apt", "/etc/ssh", "/var/lib/dpkg",
    "/var/lib/apt", "/var/lib/pydeploy", "/var/log/nginx", "/var/log/apache2", "/var/log/journal",
)


def unsafe_paths(paths, folders=None, trees=None):
    folders = SYSTEM_FOLDERS if folders is None else folders
    trees = SYSTEM_TREES if trees is None else trees
    bad = []
    for name, path in paths.items():
        path = str(path)
        below = any(path == tree or path.startswith(tree.rstrip("/") + "/") for tree in trees)
        if not _CLEAN.match(path) or _DOTS.search(path) or path in folders or below:
            bad.append(name)
    return sorted(bad)


class FilterModule:
    def filters(self):
        return {"unsafe_paths": unsafe_paths}
