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
options:
  _input:
    description: Setting name to path.
    type: dict
    required: true
  folders:
    description: Folders a setting may not be (it may be below them).
    type: list
    elements: str
    required: true
  trees:
    description: Folders a setting may be neither equal to nor below.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse an app folder that is a system folder
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


def unsafe_paths(paths, folders, trees):
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
