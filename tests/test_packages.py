"""The module pydeploy.wsgi.packages on the controller: which packages dpkg
lists as installed, and the package lists' age, as ansible.builtin.apt tells
it. (The roles' tasks run it on every scenario's hosts: a fresh host's
packages installed through ansible.builtin.apt, a converged host's told by
dpkg alone: molecule/default/tests/test_unchanged_runs.py.)"""

import importlib.util
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("pydeploy_packages", ROOT / "plugins" / "modules" / "packages.py")
packages = importlib.util.module_from_spec(spec)
spec.loader.exec_module(packages)

DPKG = "nginx ii \nlogrotate rc \npython3-venv iU \nlibc6 ii \nlibc6 ii \n"


@pytest.mark.parametrize(
    ("names", "missing"),
    [
        (["nginx", "libc6"], []),
        # Removed (config files left), half installed, unknown to dpkg.
        (["nginx", "logrotate", "python3-venv", "apache2"], ["logrotate", "python3-venv", "apache2"]),
        # Not plain package names: always apt's (a version, a wildcard, an architecture, a file, an option).
        (["nginx=1.22.1-9", "nginx*", "libc6:amd64", "./nginx.deb", "--purge"], ["nginx=1.22.1-9", "nginx*", "libc6:amd64", "./nginx.deb", "--purge"]),
        ([], []),
    ],
)
def test_what_dpkg_does_not_list_as_installed_is_missing(names, missing):
    assert packages.missing(names, DPKG) == missing


def test_the_lists_age_is_read_where_apt_reads_it(tmp_path, monkeypatch):
    stamp, lists = tmp_path / "update-success-stamp", tmp_path / "lists"
    monkeypatch.setattr(packages, "UPDATE_STAMP", str(stamp))
    monkeypatch.setattr(packages, "LISTS", str(lists))
    assert packages.lists_age() is None
    lists.mkdir()
    os.utime(lists, (1000, 1000))
    assert packages.lists_age(now=1600) == 600
    # apt's success stamp, where there is one, comes first.
    stamp.touch()
    os.utime(stamp, (1500, 1500))
    assert packages.lists_age(now=1600) == 100
