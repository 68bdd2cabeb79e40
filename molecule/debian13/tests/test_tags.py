"""Every tag `--list-tags` shows works alone on each playbook: a check run of
site.yml, deploy.yml and rollback.yml with that one tag, against a converged
host of this scenario, ends without a failure and finds nothing to change.
Every role's tags reach a host that runs the role: Apache's on the Apache +
mod_wsgi host, uWSGI's in the uwsgi scenario (tests/test_uwsgi.py), the
others on the Nginx + Gunicorn host (one host a run: the suite's time
budget)."""

import concurrent.futures

from conftest import changed_count, run_playbook, tags_of

PLAYBOOKS = ("site.yml", "deploy.yml", "rollback.yml")
APACHE_HOST, NGINX_HOST = "pydeploy-debian13-apache", "pydeploy-debian13-nginx"


def test_every_tag_works_alone_in_check_mode():
    runs = [(playbook, tag) for playbook in PLAYBOOKS for tag in tags_of(playbook) if not tag.startswith("uwsgi")]
    # Each role's own tag, its parts' tags, and "always" at least.
    assert len(runs) > 30 and ("deploy.yml", "app") in runs and ("site.yml", "apache_config") in runs, runs
    # (The facts are gathered once per host, then read from run_playbook's cache.)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(runs, pool.map(lambda run: run_playbook(
            run[0], "--check", "--tags", run[1], "--limit", APACHE_HOST if run[1].startswith("apache") else NGINX_HOST), runs)))
    failed = {run: out[-1500:] for run, (rc, out) in results.items() if rc != 0}
    assert failed == {}
    changed = {run: out[-1500:] for run, (_, out) in results.items() if changed_count(out) != 0}
    assert changed == {}
    print(f"{len(runs)} tag runs in check mode, none failed or changed anything")
