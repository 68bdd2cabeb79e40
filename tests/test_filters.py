"""The collection's filters on the controller, as the roles call them:
redact_url (a URL's credentials never reach a message or a label),
systemd_properties (a sandbox dict as systemd-run --property arguments, the
way the service templates write the same directives), redirected_names
(the names a front end redirects to the canonical one) and not_networks (what
a front end's list of addresses may not hold). unsafe_paths has its
own module: tests/test_unsafe_paths.py."""

import importlib.util
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "plugins" / "filter" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FilterModule().filters()[name]


redact_url = load("redact_url")
systemd_properties = load("systemd_properties")
redirected_names = load("redirected_names")
not_networks = load("not_networks")


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("https://oauth2:tok3n@git.example.org/app.git", "https://***@git.example.org/app.git"),
        ("https://user@host/simple/", "https://***@host/simple/"),
        ("git+ssh://git@github.com/o/r.git", "git+ssh://***@github.com/o/r.git"),
        # Every URL of a text, each up to its own host.
        ("pip: https://a:b@one/ then https://c:d@two/x", "pip: https://***@one/ then https://***@two/x"),
        # An @ in the path is not a credential.
        ("https://host/users/@me", "https://host/users/@me"),
        ("https://pypi.org/simple/", "https://pypi.org/simple/"),
        ("no URL here: user:pass@host", "no URL here: user:pass@host"),
        ("", ""),
    ],
)
def test_redact_url_replaces_the_credentials_of_every_url(text, redacted):
    assert redact_url(text) == redacted


def test_redact_url_leaves_no_part_of_a_secret_with_odd_characters():
    secret = "p%40ss:w;rd!$'"
    out = redact_url(f"fetching https://deploy:{secret}@127.0.0.1:9/hello.git failed")
    assert "deploy" not in out and "w;rd" not in out and "p%40ss" not in out
    assert out == "fetching https://***@127.0.0.1:9/hello.git failed"


def test_redact_url_takes_what_a_template_hands_it():
    assert redact_url(None) == "None"
    assert redact_url(8000) == "8000"


def test_systemd_properties_are_sorted_and_written_as_in_a_unit_file():
    sandbox = {
        "ProtectSystem": "strict",
        "NoNewPrivileges": True,
        "PrivateDevices": False,
        "ReadWritePaths": ["/srv/hello/shared", "/var/log/hello"],
        "MemoryMax": 512,
        "SystemCallFilter": None,
    }
    assert systemd_properties(sandbox) == [
        "--property=MemoryMax=512",
        "--property=NoNewPrivileges=yes",
        "--property=PrivateDevices=no",
        "--property=ProtectSystem=strict",
        "--property=ReadWritePaths=/srv/hello/shared /var/log/hello",
    ]


def test_systemd_properties_of_nothing_is_no_argument():
    assert systemd_properties({}) == []
    assert systemd_properties({"ProtectHome": None}) == []


def test_the_sandbox_is_the_one_every_unit_of_the_app_s_code_gets():
    sandbox = load("sandbox")
    service = sandbox(["/var/log/shop", "/srv/shop/shared/uploads"])
    assert service["ReadWritePaths"] == ["/var/log/shop", "/srv/shop/shared/uploads"]
    assert (service["ProtectSystem"], service["NoNewPrivileges"], service["CapabilityBoundingSet"]) == ("strict", True, "")
    assert service["RemoveIPC"] is True
    transient = sandbox(["/var/log/shop"], remove_ipc=False)
    assert "RemoveIPC" not in transient and set(service) - set(transient) == {"RemoveIPC"}
    with pytest.raises(Exception, match="must be a list of paths"):
        sandbox("/var/log/shop")


def test_the_app_servers_and_the_app_s_units_read_the_one_sandbox():
    """No role writes the sandbox's directives out: each one's default is the filter's."""
    for role, name in (("gunicorn", "gunicorn_sandbox"), ("uwsgi", "uwsgi_sandbox"), ("app", "app_sandbox")):
        value = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())[name]
        assert isinstance(value, str) and "| pydeploy.wsgi.sandbox" in value, (role, value)


@pytest.mark.parametrize(
    ("names", "canonical", "redirected"),
    [
        (["www.example.com", "example.com"], "example.com", ["www.example.com"]),
        (["example.com", "www.example.com"], "www.example.com", ["example.com"]),
        # Wildcards redirect too, in the order given; addresses are served as they are.
        (["example.com", "*.example.com", "www.example.org", "192.0.2.7", "2001:db8::1"], "example.com",
         ["*.example.com", "www.example.org"]),
        (["localhost", "www.localhost", "127.0.0.1"], "localhost", ["www.localhost"]),
        # No canonical name: every name serves the site.
        (["www.example.com", "example.com"], "", []),
        # The only name: nothing to redirect.
        (["example.com"], "example.com", []),
    ],
)
def test_redirected_names_are_every_name_but_the_canonical_one_and_the_addresses(names, canonical, redirected):
    assert redirected_names(names, canonical) == redirected


@pytest.mark.parametrize(
    ("entries", "refused"),
    [
        (["203.0.113.7", "203.0.113.0/24", "2001:db8::/32", "::1", "127.0.0.1"], []),
        ([], []),
        # Every address: believing or allowing anyone.
        (["0.0.0.0/0", "::/0", "10.0.0.0/8"], ["0.0.0.0/0", "::/0"]),
        # Names, host bits past the prefix, directives smuggled in, spaces, zones.
        (["cdn.example.com", "10.0.0.1/8", "10.0.0.0/8; real_ip_header X", "10.0.0.0/8\nAllow all"],
         ["cdn.example.com", "10.0.0.1/8", "10.0.0.0/8; real_ip_header X", "10.0.0.0/8\nAllow all"]),
        ([" 203.0.113.7", "203.0.113.7 ", "fe80::1%eth0", "", "999.1.1.1", "203.0.113.0/33"],
         [" 203.0.113.7", "203.0.113.7 ", "fe80::1%eth0", "", "999.1.1.1", "203.0.113.0/33"]),
    ],
)
def test_not_networks_names_what_is_no_address_or_network(entries, refused):
    assert not_networks(entries) == refused
