"""The README's steps for one server, followed as a newcomer would
(../../_shared/tests/readme_steps.py), with inventories/staging: the site
answers over HTTPS with the certificate the ACME CA issued, serving the
example's settings and the vault's key. The scenario's pebble stands in for
Let's Encrypt's staging CA the example names."""

import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "_shared" / "tests"))
import readme_steps  # noqa: E402

testinfra_hosts = ["ansible://pydeploy-acme-web"]


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory):
    pebble = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "pebble" / "listener-ca.crt"
    return readme_steps.follow(
        tmp_path_factory.mktemp("newcomer"), "staging", {"staging.example.com": "pydeploy-acme-web"}, {}, "web",
        "[www.pydeploy.test]",
        ["tls_acme_directory: https://ca.pydeploy.test:14000/dir",
         f"python_ca_certificates: [/etc/ssl/certs/ca-certificates.crt, {pebble}]"],
    )


def test_the_readmes_steps_deploy_the_one_server_example(host, newcomer):
    readme_steps.assert_followed(newcomer)
    # HTTPS with the certificate pebble issued, checked against its root only.
    host.check_output("curl -sf --max-time 10 https://ca.pydeploy.test:15000/roots/0 -o /tmp/pebble-root.pem")
    seen = host.check_output(
        "curl -sf --max-time 10 --cacert /tmp/pebble-root.pem --resolve www.pydeploy.test:443:127.0.0.1 https://www.pydeploy.test/whoami"
    ).replace(" ", "")
    assert '"version":"1.0.0-staging"' in seen and '"scheme":"https"' in seen, seen
    # The vault's key is the app's.
    assert newcomer["secret"] in host.file("/etc/hello/env").content_string
