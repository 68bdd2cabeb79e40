#!/usr/bin/python
# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pack_source
short_description: Pack an app's folder or git commit on the controller into an archive named after its content
description:
  - Packs a folder (O(src)) into a reproducible C(.tar.gz) with Python's own tarfile and gzip, so that any controller
    ansible-core runs on packs the same bytes, GNU tar or not; or a git commit (O(git_dir), O(version)) with
    C(git archive).
  - The folder's archive holds its entries sorted by name, every timestamp 0, owner and group 0 without names,
    and no name or time in the gzip header; group and others get what the owner may read and run, never write;
    folders are traversable; setuid, setgid and sticky bits are dropped; version control's files
    (C(.git), C(.gitignore), C(.hg), C(.svn) and the like) and what O(excludes) matches are left out.
  - The archive is written to a file of its own in O(dest), then renamed atomically to
    C(<prefix>-<sha256>.tar.gz); runs side by side never read each other's half-written archive.
    Archives and C(.part) files in O(dest) older than a day are removed.
  - Runs on the controller only; reports no change (a cache on the controller, not a change to a host).
version_added: 1.1.0
author: pydeploy.wsgi contributors (@pydeploy)
options:
  src:
    description: The folder on the controller to pack. Give either this or O(git_dir).
    type: path
  git_dir:
    description: A git working copy or repository on the controller whose commit O(version) to pack.
    type: path
  version:
    description: The commit (a hash, branch or tag) of O(git_dir) to pack.
    type: str
  dest:
    description:
      - The folder on the controller the archive goes to.
      - Made, only its owner may enter it, when it does not exist (its parents as well).
    type: path
    required: true
  prefix:
    description: The start of the archive's name, a word such as V(dir) or V(git).
    type: str
    required: true
  excludes:
    description:
      - Patterns of what to leave out of a folder, as GNU tar's C(--exclude) reads them. A pattern matches a
        path in the folder or any tail of it after a slash; C(*) matches slashes too.
      - A folder left out is left out with everything in it.
    type: list
    elements: str
    default: []
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
    details: Packs in check mode too (the archive's checksum names the release a check run compares).
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Pack the app's folder on the controller
  pydeploy.wsgi.pack_source:
    src: "{{ playbook_dir }}/../app"
    dest: "{{ lookup('env', 'HOME') }}/.cache/pydeploy"
    prefix: dir
    excludes: [__pycache__, "*.pyc", .env]
  run_once: true
  check_mode: false
  register: packed

- name: Pack a commit of a git clone on the controller
  pydeploy.wsgi.pack_source:
    git_dir: /var/cache/app.git
    version: 4c1e2f0a9d8b7c6e5f4a3b2c1d0e9f8a7b6c5d4e
    dest: /var/cache/pydeploy
    prefix: git
  run_once: true
  check_mode: false
"""

RETURN = r"""
path:
  description: The archive on the controller.
  returned: success
  type: str
  sample: /root/.cache/pydeploy/dir-9f2c0b1e4d7a65c3b8e0f1a2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f40.tar.gz
sha256:
  description: The SHA-256 of the archive, which its name holds.
  returned: success
  type: str
removed:
  description: The names of the archives and C(.part) files of earlier days removed from O(dest).
  returned: success
  type: list
  elements: str
"""
