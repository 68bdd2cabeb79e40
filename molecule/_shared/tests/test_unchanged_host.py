"""The record of a host's last complete run (pydeploy.wsgi.converged), in
every scenario that lists this file: it watches everything the runs wrote,
so that a host it calls unchanged is one a run of every task would leave
as it is.

_shared/prepare.yml marks the end of the preparation; every path changed
after it (its inode's change time) must be a path a record of the host
watches (in a watched tree, a watched file, an entry of a watched listing,
a folder on the way to one), or be known as not the roles' to keep: the
packages' own files (apt installs them; a run of every task does not put
them back either), what the app and the services write, the tests' own.
"""

import json
import os
import re
import shlex

import pytest
from conftest import run_playbook

# What the runs may change that no record watches, and why.
NOT_WATCHED = {
    # The kernel's, the boot's, the package manager's and systemd's state;
    # the installed packages are watched through /var/lib/dpkg/status.
    "/proc": "kernel",
    "/sys": "kernel",
    "/dev": "devices",
    "/run": "runtime",
    "/tmp": "temporary",
    "/var/tmp": "temporary",
    "/root": "the connection's own files (Ansible's temporary folders)",
    "/usr": "the packages' files (/usr/local/share/ca-certificates is watched)",
    "/var/cache": "caches",
    "/var/log": "logs",
    "/var/lib/apt": "apt's lists",
    "/var/lib/dpkg": "dpkg's state (its status file is watched)",
    "/var/lib/ucf": "dpkg's configuration-file state",
    "/var/lib/systemd": "systemd's state",
    "/var/lib/apache2": "a2enmod's notes (the links in /etc/apache2 are watched)",
    "/var/lib/nginx": "Nginx's temporary bodies",
    "/var/lib/logrotate": "logrotate's state",
    "/var/lib/pydeploy/converged": "the records themselves",
    "/var/lib/pydeploy/acme": "the ACME challenges' answers, each for one run",
    "/var/lib/pydeploy/maintenance": "maintenance.yml's flags: the operator's state, which site.yml leaves as it is",
    "/var/lib/letsencrypt": "certbot's working files (its account and lineage, in /etc/letsencrypt, are watched)",
    "/opt/pydeploy/pip-audit": "the audit tool's virtualenv (its marker, the requirement installed, is watched)",
    "/var/lib/pydeploy-alert": "the notifier's open incidents and outbox (the alerts role's units write it)",
    "/var/lib/pydeploy-test-prepared": "the mark",
    "/etc/systemd/system/osv-stand-in.service": "the release scenario's stand-in OSV API (its prepare, after the mark)",
    "/var/lib/osv-stand-in": "the stand-in OSV API's log of the queries it answered",
    "/var/lib/dbus/machine-id": "dbus's machine id, made when a package brings dbus",
    "/etc/ld.so.cache": "ldconfig, after a package",
    "/etc/alternatives": "update-alternatives, for a package",
    "/var/lib/python": "Debian's byte-compilation of a package",
    "/etc/.pwd.lock": "the accounts' lock, taken by useradd",
    "/etc/networks": "netbase's maintainer script, for a package",
    "/etc/ssl/private/ssl-cert-snakeoil.key": "ssl-cert's maintainer script, for a package",
    "/etc/lighttpd": "javascript-common's maintainer script, for a package",
    "/etc/fonts": "fontconfig's maintainer script, for a package",
    "/var/www": "the front ends' packages' default page",
    "/etc/shadow": "the accounts' passwords (the accounts are watched)",
    "/etc/gshadow": "the groups' passwords (the groups are watched)",
    "/etc/passwd-": "useradd's backup",
    "/etc/group-": "groupadd's backup",
    "/etc/shadow-": "useradd's backup",
    "/etc/gshadow-": "groupadd's backup",
    "/etc/subuid": "useradd's subordinate ids (the accounts are watched)",
    "/etc/subgid": "useradd's subordinate ids (the groups are watched)",
    "/etc/subuid-": "useradd's backup",
    "/etc/subgid-": "useradd's backup",
}

CHANGED = r"""
import json, os, sys
mark = os.stat("/var/lib/pydeploy-test-prepared").st_ctime
packaged = set()
for name in os.listdir("/var/lib/dpkg/info"):
    if name.endswith(".list"):
        with open(os.path.join("/var/lib/dpkg/info", name), encoding="utf-8", errors="surrogateescape") as f:
            packaged.update(line.rstrip("\n") for line in f)
skip = set(json.loads(sys.argv[1]))
changed = []
for folder, dirs, files in os.walk("/", topdown=True):
    dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skip and not os.path.ismount(os.path.join(folder, d))]
    for name in dirs + files:
        path = os.path.join(folder, name)
        if path in skip or path in packaged:
            continue
        try:
            if os.lstat(path).st_ctime > mark:
                changed.append(path)
        except FileNotFoundError:
            pass
print(json.dumps(changed))
"""


@pytest.fixture(scope="module")
def recorded():
    """A complete run's record on every host: the scenario's converge
    playbook (a run of every task, or one that finds the host unchanged)."""
    converge = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
    rc, out = run_playbook(converge)
    assert rc == 0, out[-3000:]


def watched_by_records(host):
    """The union of what every record on the host watches."""
    listing = host.run("ls /var/lib/pydeploy/converged")
    assert listing.rc == 0, listing.stderr
    watch = {"trees": set(), "files": set(), "listings": set(), "units": set()}
    names = [name for name in listing.stdout.split() if name.endswith(".json")]
    assert names, "no record of a complete run on the host"
    for name in names:
        record = json.loads(host.file(f"/var/lib/pydeploy/converged/{name}").content_string)
        for key, values in record["watch"].items():
            watch[key].update(values)
    return watch


def covered(path, watch):
    if path in watch["files"] or path in watch["listings"] or os.path.dirname(path) in watch["listings"]:
        return True
    if any(path == tree or path.startswith(tree + "/") for tree in watch["trees"]):
        return True
    # A folder on the way to something watched (its entries changed).
    return any(item.startswith(path + "/") for key in ("trees", "files", "listings") for item in watch[key])


def test_every_path_the_runs_changed_is_watched_or_known(host, recorded):
    if not set(host.ansible.get_variables().get("group_names", [])) & {"web", "lb", "app"}:
        # A host site.yml does not run on (acme's CA) holds no record.
        assert not host.file("/var/lib/pydeploy/converged").exists
        return
    watch = watched_by_records(host)
    # What the app and its services write, below what is watched: the
    # releases' built files, the shared folders' and logs' content, the
    # build cache; the enablement links (each unit's state is watched).
    apps = {os.path.dirname(path) for path in watch["listings"] if path.endswith("/releases")}
    out = host.run(f"python3 -c {shlex.quote(CHANGED)} {shlex.quote(json.dumps(sorted(NOT_WATCHED)))}")
    assert out.rc == 0, out.stderr
    changed = json.loads(out.stdout)
    assert changed, "nothing changed after the preparation: the mark is wrong"
    theirs = tuple(f"{app}/{part}/" for app in apps for part in ("releases", "shared", ".build-cache"))
    missed = [
        path
        for path in changed
        if not covered(path, watch)
        and not path.startswith(theirs)
        # Links that enable a unit (each unit's state is watched; a
        # package's user units), a package's SysV links.
        and not (path.startswith("/etc/systemd/") and re.search(r"[.]wants(/|$)", path))
        and not re.match(r"/etc/rc[0-6S]\.d/", path)
    ]
    assert missed == [], f"changed after the preparation, watched by no record of {host.backend.host}: {missed}"
