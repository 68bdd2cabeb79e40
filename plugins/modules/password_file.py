#!/usr/bin/python
# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: password_file
short_description: Write a front end's basic auth password file, each password hashed on the host
description:
  - Writes the file Nginx (C(auth_basic_user_file)) and Apache (C(AuthUserFile)) read the users of HTTP basic auth
    from, one C(name:hash) line a user, in the order given; a user not listed is removed.
  - Each password is hashed on the host by OpenSSL (C(openssl passwd -6), SHA-512 crypt with 5000 rounds and a random
    salt), given on its standard input, never on a command line. Both front ends check such a hash through the
    system's C(crypt()) on every request (Nginx caches nothing); a costlier scheme (bcrypt of cost 12, 656000 rounds)
    would spend a quarter of a CPU second a request.
  - A user whose line already holds the hash of its password (the password hashed again with that line's salt) keeps
    its line, so a run with the same passwords changes nothing.
  - The file is replaced atomically, with its owner, group and mode set; its content, the passwords and their hashes
    are never returned or shown in a diff.
version_added: 1.2.0
author: pydeploy.wsgi contributors (@pydeploy)
options:
  path:
    description: The password file. Its folder must exist.
    type: path
    required: true
  users:
    description:
      - The users, each a C(name) (no C(:), no white space or line break) and a C(password) (one line, not empty).
      - Empty, with O(state=present), the file holds no user (every request is refused).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The user's name.
        type: str
        required: true
      password:
        description: The user's password; never logged.
        type: str
        required: true
  state:
    description: V(present) writes the file, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment: [ansible.builtin.files]
attributes:
  check_mode:
    support: full
    description: Says whether the file would change; writes nothing.
  diff_mode:
    support: none
    description: The file holds password hashes; no diff is shown.
"""

EXAMPLES = r"""
- name: Write the site's basic auth users
  pydeploy.wsgi.password_file:
    path: /etc/nginx/pydeploy-hello.htpasswd
    users:
      - {name: alice, password: "{{ vault_alice_password }}"}
    owner: root
    group: www-data
    mode: "0640"
"""

RETURN = r"""
users:
  description: The names of the users the file holds, in its order.
  returned: success
  type: list
  elements: str
"""

import os
import re
import secrets
import tempfile

from ansible.module_utils.basic import AnsibleModule

_NAME = re.compile(r"[^:\s]{1,255}\Z")
_SALT_CHARS = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _hash(module, password, salt):
    rc, out, err = module.run_command(["openssl", "passwd", "-6", "-salt", salt, "-stdin"], data=password, binary_data=False)
    if rc != 0 or not out.startswith("$6$"):
        module.fail_json(msg=f"openssl passwd failed: {err.strip()}")
    return out.strip()


def _salt_of(line_hash):
    """The salt of a SHA-512 crypt hash ($6$[rounds=N$]salt$digest), or None."""
    parts = line_hash.split("$")
    if len(parts) < 4 or parts[1] != "6":
        return None
    return "$".join(parts[2:-1])


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None, {}
    hashes = {}
    for line in text.splitlines():
        name, sep, line_hash = line.partition(":")
        if sep:
            hashes[name] = line_hash
    return text, hashes


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "users": {
                "type": "list", "elements": "dict", "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "password": {"type": "str", "required": True, "no_log": True},
                },
            },
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        add_file_common_args=True,
        supports_check_mode=True,
    )
    path = module.params["path"]
    if module.params["state"] == "absent":
        exists = os.path.lexists(path)
        if exists and not module.check_mode:
            os.unlink(path)
        module.exit_json(changed=exists, users=[])

    users = module.params["users"]
    names = [user["name"] for user in users]
    bad = [name for name in names if not _NAME.match(name)]
    if bad or len(set(names)) != len(names):
        module.fail_json(msg="users: each name must be unique, without ':', white space or line breaks")
    if any(not user["password"] or any(mark in user["password"] for mark in _LINE_BREAKS) for user in users):
        module.fail_json(msg="users: each password must be one line, not empty (the users' names: %s)" % ", ".join(names))

    old_text, old_hashes = _read(path)
    lines = []
    for user in users:
        salt = _salt_of(old_hashes.get(user["name"], ""))
        if salt and _hash(module, user["password"], salt) == old_hashes[user["name"]]:
            lines.append(f"{user['name']}:{old_hashes[user['name']]}")
        else:
            # 16 of crypt's 64 salt characters (a byte modulo 64: no bias).
            salt = "".join(_SALT_CHARS[byte % 64] for byte in secrets.token_bytes(16))
            lines.append(f"{user['name']}:{_hash(module, user['password'], salt)}")
    text = "".join(line + "\n" for line in lines)

    changed = text != old_text
    if changed and not module.check_mode:
        folder = os.path.dirname(os.path.abspath(path))
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".pydeploy-", suffix=".tmp")
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            module.atomic_move(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    file_args = module.load_file_common_arguments(module.params, path=path)
    if not module.check_mode or not changed:
        changed = module.set_fs_attributes_if_different(file_args, changed)
    module.exit_json(changed=changed, users=names)


if __name__ == "__main__":
    main()
