"""tls_mode files: the user's certificate, chain and key replace the host's
own; Nginx reloads (same master process) and presents them. Runs last: it
leaves the host on the new certificate."""

from conftest import changed_count, make_certificate, run_playbook


def test_files_mode_installs_the_certificate_with_its_chain(host, tmp_path):
    ca_cert_path, _, ca = make_certificate(tmp_path, ["Test Issuing CA"], days=365, ca=True)
    cert, key, (leaf, _) = make_certificate(tmp_path, ["localhost", "www.localhost", "127.0.0.1"], days=60, issuer=ca)
    nginx_master = host.check_output("cat /run/nginx.pid")
    # The roles the certificate goes through: tls writes it, Nginx presents it.
    args = ["--tags", "tls,nginx", "-e", "tls_mode=files", "-e", f"tls_cert_src={cert}", "-e", f"tls_key_src={key}", "-e", f"tls_chain_src={ca_cert_path}"]
    rc, out = run_playbook("site.yml", *args)
    assert rc == 0, out[-3000:]
    assert changed_count(out) > 0
    chain = host.check_output(
        "echo | openssl s_client -connect localhost:443 -servername localhost -showcerts 2>/dev/null"
    )
    assert chain.count("BEGIN CERTIFICATE") == 2
    assert "CN = Test Issuing CA" in chain and "CN = localhost" in chain
    served_serial = host.check_output(
        "echo | openssl s_client -connect localhost:443 -servername localhost 2>/dev/null | openssl x509 -noout -serial"
    )
    assert int(served_serial.split("=")[1], 16) == leaf.serial_number
    key_file = host.file("/etc/ssl/pydeploy/private/localhost.key")
    assert (key_file.user, key_file.group, key_file.mode) == ("root", "root", 0o600)
    # The host's own CA goes with the mode that used it: nothing on the host
    # signs for the site any more.
    for path in ("/etc/ssl/pydeploy/pydeploy-ca.crt", "/etc/ssl/pydeploy/private/pydeploy-ca.key",
                 "/etc/ssl/pydeploy/private/pydeploy-ca.csr", "/etc/ssl/pydeploy/private/pydeploy-ca.localhost.names"):
        assert not host.file(path).exists, path
    # The operator's certificate: the host no longer renews it.
    assert not host.file("/etc/pydeploy/tls/localhost.json").exists
    # A reload, not a restart: the same master serves.
    assert host.check_output("cat /run/nginx.pid") == nginx_master
    # The same files again: nothing to change.
    rc, out = run_playbook("site.yml", *args)
    assert rc == 0, out[-3000:]
    assert changed_count(out) == 0, out[-3000:]
