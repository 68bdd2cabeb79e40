#!/usr/bin/python
# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: packages
short_description: Debian packages present, told by dpkg where they are, installed by ansible.builtin.apt where not
description:
  - Makes sure Debian packages are installed, as M(ansible.builtin.apt) with O(ansible.builtin.apt#module:state=present)
    does, and asks dpkg first. Where every package named is installed already (and the package lists are younger
    than O(cache_valid_time), where O(update_cache) asks for them), the task ends there, without opening APT's
    cache (a third of a CPU second on a host with Debian's full package lists, for each such task of each run).
  - Anything else goes to M(ansible.builtin.apt) with the same options, unchanged; a name that is not a plain
    package name (a version, a wildcard, an architecture, a file) is always its.
  - Use it through its action plugin, which runs the module on the host (the dpkg query) and then
    M(ansible.builtin.apt) where needed.
version_added: 1.2.0
author: pydeploy.wsgi contributors (@pydeploy)
options:
  name:
    description: The packages to have installed.
    type: list
    elements: str
    required: true
  update_cache:
    description: Update the package lists first where they are older than O(cache_valid_time), as M(ansible.builtin.apt).
    type: bool
    default: false
  cache_valid_time:
    description: With O(update_cache), the age in seconds below which the package lists are not updated.
    type: int
    default: 0
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
    details: The dpkg query changes nothing; M(ansible.builtin.apt) runs in check mode.
  diff_mode:
    support: none
  platform:
    platforms: debian
"""

EXAMPLES = r"""
- name: Install Nginx
  pydeploy.wsgi.packages:
    name: [nginx]

- name: Install Python, the package lists at most an hour old where something is missing
  pydeploy.wsgi.packages:
    name: [python3, python3-venv]
    update_cache: true
    cache_valid_time: 3600
"""

RETURN = r"""
missing:
  description: The packages dpkg does not list as installed (or whose names are not plain package names).
  returned: always
  type: list
  elements: str
  sample: [nginx]
lists_age:
  description: The package lists' age in seconds, as M(ansible.builtin.apt) tells it; null where not asked for or unknown.
  returned: always
  type: int
  sample: 120
msg:
  description: What dpkg told.
  returned: always
  type: str
  sample: "Installed already: nginx"
lists_fresh:
  description: Whether the package lists need no update (O(update_cache) not asked for, or the lists younger than
    O(cache_valid_time)).
  returned: always
  type: bool
  sample: true
"""

import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

# A package name as Debian's policy allows it (5.6.1), and nothing else.
PLAIN = re.compile(r"[a-z0-9][a-z0-9+.-]+\Z")
# Where ansible.builtin.apt reads when the lists were last updated.
UPDATE_STAMP = "/var/lib/apt/periodic/update-success-stamp"
LISTS = "/var/lib/apt/lists"


def missing(names, dpkg_output):
    """The names dpkg-query's "${Package} ${db:Status-Abbrev}" lines do not
    show as installed (ii), and every name that is not a plain package name."""
    installed = set()
    for line in dpkg_output.splitlines():
        package, status = (line.split(" ", 1) + [""])[:2]
        if status.startswith("ii"):
            installed.add(package)
    return [name for name in names if not PLAIN.match(name) or name not in installed]


def lists_age(now=None):
    """Seconds since the package lists were updated, as ansible.builtin.apt
    tells it (its success stamp, else the lists' folder); None if neither."""
    for path in (UPDATE_STAMP, LISTS):
        if os.path.exists(path):
            return int((now if now is not None else time.time()) - os.path.getmtime(path))
    return None


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "list", "elements": "str", "required": True},
            "update_cache": {"type": "bool", "default": False},
            "cache_valid_time": {"type": "int", "default": 0},
        },
        supports_check_mode=True,
    )
    names = module.params["name"]
    plain = [name for name in names if PLAIN.match(name)]
    output = ""
    if plain:
        # Exits 1 where a name is not known to dpkg; its stdout still lists the others.
        dpkg_query = module.get_bin_path("dpkg-query", required=True)
        output = module.run_command([dpkg_query, "--show", "--showformat", "${Package} ${db:Status-Abbrev}\n", "--", *plain])[1]
    age = lists_age() if module.params["update_cache"] else None
    # As ansible.builtin.apt: the lists are updated unless younger than cache_valid_time.
    fresh = not module.params["update_cache"] or (age is not None and age < module.params["cache_valid_time"])
    absent = missing(names, output)
    module.exit_json(
        changed=False, missing=absent, lists_age=age, lists_fresh=fresh,
        msg=f"Not installed: {', '.join(absent)}" if absent else f"Installed already: {', '.join(names)}",
    )


if __name__ == "__main__":
    main()
