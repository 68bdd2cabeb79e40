"""The app's folder settings (app_root, app_log_dir, app_config_dir,
app_env_file) through the filter the input checks use
(plugins/filter/unsafe_paths.py), with its own lists of system folders
(the ones the app, Gunicorn, uWSGI and the guarded roles check): each
hostile or colliding value refused, the usual ones taken.
tests/test_bad_input.py shows the check stops a real play."""

import importlib.util
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("unsafe_paths", ROOT / "plugins" / "filter" / "unsafe_paths.py")
_filter = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_filter)
APP_VARS = yaml.safe_load((ROOT / "roles" / "app" / "vars" / "main.yml").read_text())


# The filter's own lists, which every role's check uses (no argument given).
FOLDERS, TREES = None, None
RESERVED = APP_VARS["__app_reserved_names"]

REFUSED = [
    "", "relative/path", "/", "/srv", "/etc", "/var/log", "/var/www", "/opt", "/home", "/run/lock",
    "/srv/../etc", "/srv/hello/..", "/srv/./hello", "/srv//hello", "/srv/hello/", "/srv/hello;id",
    "/srv/hello\nx", "/srv/hello\u2028x", "/srv/{{ 7 * 7 }}", "/srv/$HOME", "/srv/hel lo", "/srv/.hidden/../x",
    "/etc/ssl/private", "/etc/ssl", "/etc/systemd/system", "/etc/nginx/hello", "/var/log/nginx", "/var/log/journal/x",
    "/tmp/hello", "/var/tmp/hello", "/usr/local/hello", "/proc/self", "/root/app", "/etc/sudoers.d/hello",
    "/var/lib/pydeploy/hello", "/etc/pydeploy", "/srv/h\u00e9llo",
]
TAKEN = ["/srv/hello", "/var/log/hello", "/etc/hello", "/etc/hello/env", "/opt/apps/hello-2", "/var/www/hello_app",
         "/home/deploy/apps/hello", "/srv/hello.example.org", "/var/lib/hello"]


@pytest.mark.parametrize("path", REFUSED)
def test_unsafe_path_is_refused_naming_the_setting(path):
    assert _filter.unsafe_paths({"app_root": path, "app_log_dir": "/var/log/hello"}, FOLDERS, TREES) == ["app_root"]


@pytest.mark.parametrize("path", TAKEN)
def test_a_folder_of_the_apps_own_is_taken(path):
    assert _filter.unsafe_paths({"app_root": path}, FOLDERS, TREES) == []


def test_every_failing_setting_is_named_sorted():
    paths = {"app_root": "/srv", "app_log_dir": "/var/log", "app_config_dir": "/etc/hello", "app_env_file": "/tmp/env"}
    assert _filter.unsafe_paths(paths, FOLDERS, TREES) == ["app_env_file", "app_log_dir", "app_root"]


@pytest.mark.parametrize("name", ["root", "www-data", "nobody", "redis", "postgres", "nginx", "adm", "docker", "shadow",
                                  "sudo", "systemd-journal", "ssl-cert", "pydeploy"])
def test_system_accounts_groups_and_service_names_are_reserved(name):
    assert name in RESERVED


def test_lists_of_ones_own_replace_the_systems():
    assert _filter.unsafe_paths({"app_root": "/srv"}, ["/opt"], []) == []
    assert _filter.unsafe_paths({"app_root": "/opt/x"}, [], ["/opt"]) == ["app_root"]
