"""The example app behaves as the README and the scenarios expect."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "examples" / "flask_app"))
from hello import create_app  # noqa: E402


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("APP_VERSION", "9.9.9")
    return create_app().test_client()


def test_index_renders_the_template_with_the_version(client):
    page = client.get("/")
    assert page.status_code == 200
    assert b'<dd id="version">9.9.9</dd>' in page.data
    assert b"/static/css/style.css" in page.data


def test_health_and_ready(client):
    assert client.get("/health").json == {"status": "healthy"}
    assert client.get("/ready").json["status"] == "ready"


def test_proxy_headers_are_trusted_for_one_hop(client):
    seen = client.get(
        "/whoami",
        headers={"X-Forwarded-For": "203.0.113.7, 198.51.100.2", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.org"},
    ).json
    # One proxy: only the address it appended (the last) is trusted.
    assert seen["remote_addr"] == "198.51.100.2"
    assert seen["scheme"] == "https"
    assert seen["host"] == "example.org"


def test_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_login_refuses_unknown_credentials(client):
    assert client.get("/login").status_code == 200
    assert client.post("/login", data={"username": "a", "password": "b"}).status_code == 401
