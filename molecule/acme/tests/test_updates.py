"""Security updates (the updates role): Debian's unattended-upgrades runs
every day from apt's timers and installs from the security archive alone,
without rebooting; the configuration is the role's, read after Debian's."""

import re

testinfra_hosts = ["ansible://pydeploy-acme-web", "ansible://pydeploy-acme-apache"]


def test_apt_upgrades_the_security_archive_every_day_without_rebooting(host):
    dump = host.check_output("apt-config dump")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    assert 'APT::Periodic::Update-Package-Lists "1";' in dump
    patterns = re.findall(r'^Unattended-Upgrade::Origins-Pattern:: "(.*)";$', dump, re.M)
    assert patterns == ["origin=Debian,codename=${distro_codename}-security,label=Debian-Security"], dump
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in dump
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        state = host.check_output(f"systemctl show -p ActiveState,UnitFileState {timer}")
        assert "ActiveState=active" in state and "UnitFileState=enabled" in state, (timer, state)


def test_unattended_upgrades_allows_the_security_archive_alone(host):
    out = host.run("unattended-upgrade --dry-run --debug 2>&1")
    assert out.rc == 0, out.stdout[-2000:]
    allowed = re.search(r"Allowed origins are: (.*)", out.stdout)
    assert allowed, out.stdout[-2000:]
    codename = host.system_info.codename
    assert allowed.group(1).strip() == f"origin=Debian,codename={codename}-security,label=Debian-Security", allowed.group(0)
