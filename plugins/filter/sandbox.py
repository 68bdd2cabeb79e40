# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The sandbox filter: the systemd sandbox every process of the app's code runs in."""

from __future__ import annotations

DOCUMENTATION = r"""
name: sandbox
short_description: The systemd sandbox the app's code runs in, as systemd.exec(5) directives
version_added: 1.2.0
author: pydeploy.wsgi contributors (@pydeploy)
description:
  - The one sandbox of the collection's services and transient units that run the app's code (the app server's
    service, the app role's builds, trials and migrations), so that they all run alike. With it C(systemd-analyze
    security) rates a unit below 2.0 ("OK").
  - The whole file system read-only but for the folders given (V(ProtectSystem=strict) + V(ReadWritePaths)), no
    home folders, a private V(/tmp) and V(/dev), no new privileges, no capabilities, no kernel, clock, host name or
    control group changes, no SUID/SGID files, no realtime scheduling, no namespaces, the native system call
    architecture and the C(@system-service) set of calls (others fail with V(EPERM)), and the address families of
    Unix sockets and IP only.
  - A role lays its own overrides over the result (C(gunicorn_sandbox_overrides)); V(null) removes a directive.
options:
  _input:
    description: The folders the code may write (V(ReadWritePaths)).
    type: list
    elements: str
    required: true
  remove_ipc:
    description:
      - V(RemoveIPC), which removes the user's System V and POSIX IPC objects when the unit stops. On for a
        service; off for a transient unit of the same user, whose end must not take the running service's.
    type: bool
    default: true
"""

EXAMPLES = r"""
# roles/gunicorn/defaults/main.yml
gunicorn_sandbox: "{{ ([gunicorn_log_dir] + gunicorn_data_paths + gunicorn_read_write_paths) | pydeploy.wsgi.sandbox }}"
"""

RETURN = r"""
_value:
  description: Directive name to value, for a unit file or pydeploy.wsgi.systemd_properties.
  type: dict
"""

from ansible.errors import AnsibleFilterError


def sandbox(read_write_paths, remove_ipc=True):
    if not isinstance(read_write_paths, (list, tuple)) or not all(isinstance(path, str) for path in read_write_paths):
        raise AnsibleFilterError(f"pydeploy.wsgi.sandbox: the folders the code may write must be a list of paths (got {read_write_paths!r})")
    directives = {
        "NoNewPrivileges": True,
        "PrivateTmp": True,
        "PrivateDevices": True,
        "ProtectSystem": "strict",
        "ProtectHome": True,
        "ReadWritePaths": list(read_write_paths),
        "ProtectKernelTunables": True,
        "ProtectKernelModules": True,
        "ProtectKernelLogs": True,
        "ProtectControlGroups": True,
        "ProtectClock": True,
        "ProtectHostname": True,
        "RestrictSUIDSGID": True,
        "RestrictRealtime": True,
        "RestrictNamespaces": True,
        "LockPersonality": True,
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
        "RestrictAddressFamilies": ["AF_UNIX", "AF_INET", "AF_INET6"],
        "SystemCallArchitectures": "native",
        "SystemCallFilter": "@system-service",
        "SystemCallErrorNumber": "EPERM",
    }
    if remove_ipc:
        directives["RemoveIPC"] = True
    return directives


class FilterModule:
    def filters(self):
        return {"sandbox": sandbox}
