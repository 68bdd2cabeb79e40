"""The app servers' socket units, rendered on the controller as Ansible's
template module renders them (Jinja2 with trim_blocks): the TCP listener's
allow list is one line systemd reads as written, and there is none without
a TCP listener."""

import pathlib

import jinja2
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def render(role, **values):
    environment = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    source = (ROOT / "roles" / role / "templates" / "etc" / "systemd" / "system" / "socket.j2").read_text()
    variables = {"ansible_managed": "Ansible managed", f"{role}_app_name": "hello",
                 f"{role}_socket_path": f"/run/hello/{role}.sock", f"{role}_socket_user": "www-data",
                 f"{role}_socket_group": "www-data", f"{role}_socket_mode": "0660"}
    variables |= {f"{role}_{name}": value for name, value in values.items()}
    return environment.from_string(source).render(variables)


def settings(unit):
    """The unit's settings, as systemd reads them: comments are whole lines."""
    return [tuple(line.split("=", 1)) for line in unit.splitlines() if line and line[0] not in "#;[" and "=" in line]


@pytest.mark.parametrize("role", ["gunicorn", "uwsgi"])
def test_the_tcp_listener_takes_the_balancers_and_the_host_alone(role):
    unit = render(role, tcp_address="10.0.0.21", tcp_port=8000, tcp_allow=["10.0.0.10", "fd00::10", "10.0.0.21"])
    found = settings(unit)
    assert ("ListenStream", "10.0.0.21:8000") in found
    assert ("IPAddressDeny", "any") in found
    # Loopback, the listener's own address (the host's checks come from
    # it), then the balancers; each once, nothing else on the line.
    assert ("IPAddressAllow", "localhost 10.0.0.21 10.0.0.10 fd00::10") in found, unit
    # Every setting is on its own line: none swallowed a comment or the next.
    assert all("#" not in value and "=" not in value for name, value in found if name.startswith("IPAddress")), unit
    assert [name for name, _ in found].count("IPAddressAllow") == 1


@pytest.mark.parametrize("role", ["gunicorn", "uwsgi"])
def test_no_tcp_listener_no_allow_list(role):
    found = dict(settings(render(role, tcp_address="127.0.0.1", tcp_port=0, tcp_allow=[])))
    assert found["ListenStream"] == f"/run/hello/{role}.sock"
    assert "IPAddressDeny" not in found and "IPAddressAllow" not in found


@pytest.mark.parametrize("role", ["gunicorn", "uwsgi"])
def test_an_ipv6_listener_is_bracketed_and_allowed_as_itself(role):
    found = settings(render(role, tcp_address="fd00::21", tcp_port=8000, tcp_allow=["fd00::10"]))
    assert ("ListenStream", "[fd00::21]:8000") in found
    assert ("IPAddressAllow", "localhost fd00::21 fd00::10") in found
