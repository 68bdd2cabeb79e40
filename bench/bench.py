"""The collection's benchmarks: ratios measured side by side in one run.

Started by bench/run, which installs what it needs and starts four hosts
(containers pydeploy-bench-<stack>, removed at the end), one a stack: nginx + gunicorn, nginx + uwsgi, apache +
mod_wsgi, apache + gunicorn) are deployed by playbooks/site.yml; wrk runs
inside each host against its own 127.0.0.1, so no traffic leaves the host
and Docker's port proxy is not measured. Each comparison is A then B, B then
A, ... for --rounds rounds (the order alternates: drift hits both); the
ratio B/A of each round is kept, and the table gives their median and
spread (lowest to highest).

1. GET / through the front end (TLS) vs straight to the app server (HTTP on
   127.0.0.1:8001): requests/s and p99, per stack (mod_wsgi: the front end is
   the app server, nothing to compare).
2. A static file through the front end vs the same file served by the app.
3. Our defaults vs the usual tutorial's (gunicorn -w 4 sync on
   127.0.0.1:8000, Nginx proxy_pass without upstream keep-alive, same
   certificate), on the nginx + gunicorn host.
4. Ansible, on Mitogen's strategy as users turn it on (docs/docsite/rst/benchmarks.rst;
   measured faster than the linear strategy, below): an idempotent site.yml
   vs a no-op play on the 4 stack hosts; an idempotent site.yml on 8 hosts
   (the 4 stacks and 4 more nginx + gunicorn hosts, pydeploy-bench-fleet-N)
   vs 1, and a no-op play on the same 8 vs 1 (that slope's floor on this
   bed); a code-only deploy of one host vs the same deploy by this
   repository as it was before the speed work (BASELINE, its own settings:
   the linear strategy, its ansible.cfg; a host of its own,
   pydeploy-bench-baseline, deployed by it); a code-only deploy on 3 app
   hosts at once vs 1, and on 3 with each host building its dependencies
   vs the controller's wheelhouse; and what each setting buys: a host
   spared as unchanged (pydeploy_skip_unchanged) vs a run of every task,
   the input checks of 8 hosts in one task vs a task for each host,
   and on runs of every task Mitogen vs the linear strategy, only the
   collections used vs every collection of the `ansible` package (on
   Mitogen), pipelining (on the linear strategy, which uses it), fact
   caching and cache_valid_time.

Prints a Markdown table, writes it with the raw figures (JSON) and a PNG
chart to --out.
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PREFIX = "pydeploy-bench-"
# The last commit before the speed work of issue 26 (2026-12-02): what "today's
# settings" of that issue were, code and ansible.cfg, run on Ansible's linear
# strategy. Its deploys are measured against this tree's on a host of its own.
BASELINE = "cd2063a"
STACKS = {
    "nginx-gunicorn": {"pydeploy_front_end": "nginx", "pydeploy_app_server": "gunicorn", "gunicorn_tcp_port": 8001},
    "nginx-uwsgi": {"pydeploy_front_end": "nginx", "pydeploy_app_server": "uwsgi"},
    "apache-mod_wsgi": {"pydeploy_front_end": "apache", "pydeploy_app_server": "mod_wsgi"},
    "apache-gunicorn": {"pydeploy_front_end": "apache", "pydeploy_app_server": "gunicorn", "gunicorn_tcp_port": 8001},
}
GROUP_VARS = {
    "pydeploy_app_name": "hello",
    "pydeploy_server_names": ["localhost"],
    "pydeploy_wsgi_app": "wsgi:app",
    "app_src": str(ROOT / "examples" / "flask_app"),
    # A benchmark's throwaway value; use a vault in a real inventory.
    "app_secret_key": "bench-secret-5f0c2e9a7b1d4e8f9a6c3b2d1e0f7a8b",
    "app_env": {"TRUSTED_PROXY_HOPS": "1"},
    "nginx_static_locations": [{"location": "/static/", "path": "hello/static/"}],
    "apache_static_locations": [{"location": "/static/", "path": "hello/static/"}],
    "python_ca_certificates": ["/etc/ssl/certs/ca-certificates.crt"],
}
# Four more nginx + gunicorn hosts for the 8-host runs (deployed only when the
# Ansible half runs), and the baseline's host.
FLEET = [f"fleet-{number}" for number in range(1, 5)]
FLEET_STACK = {"pydeploy_front_end": "nginx", "pydeploy_app_server": "gunicorn"}
STATIC = "/static/css/style.css"
TUTORIAL_SITE = """server {
    listen 8443 ssl;
    server_name localhost;
    ssl_certificate /etc/ssl/pydeploy/localhost.crt;
    ssl_certificate_key /etc/ssl/pydeploy/private/localhost.key;
    location / {
        proxy_pass http://127.0.0.1:8000;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
    }
}
"""


def mitogen_env():
    """The environment that runs a playbook with Mitogen for Ansible, as
    docs/docsite/rst/benchmarks.rst tells users to turn it on: with only the
    collections the playbooks use on the collections path
    (scripts/lib.sh, used_collections), not the `ansible` package's."""
    import ansible_mitogen  # noqa: PLC0415

    strategies = pathlib.Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
    used = run(["bash", "-c", f"source {ROOT / 'scripts' / 'lib.sh'} && used_collections"]).strip()
    return {"ANSIBLE_STRATEGY_PLUGINS": str(strategies), "ANSIBLE_STRATEGY": "mitogen_linear",
            "ANSIBLE_COLLECTIONS_PATH": f"{ROOT / 'collections'}:{used}", "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false"}


LINEAR = {"ANSIBLE_STRATEGY": "linear"}
# Mitogen with every collection of the `ansible` package found, as
# ansible.cfg's collections_path and Ansible's sys.path scan give them.
EVERY_COLLECTION = {"ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "true"}


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def sh(host, script, check=True):
    out = subprocess.run(["docker", "exec", PREFIX + host, "sh", "-c", script], text=True, capture_output=True, check=False)
    if check and out.returncode != 0:
        raise RuntimeError(f"{host}: {script}\n{out.stdout}{out.stderr}")
    return out.stdout


class Bed:
    """The containers and their inventory."""

    def __init__(self, work):
        self.work = work
        self.inventory = work / "inventory.yml"
        self.baseline = work / "baseline"
        self.baseline_inventory = work / "baseline-inventory.yml"

    def write_inventory(self):
        # "docker" (Ansible routes it to community.docker.docker) is the name
        # Mitogen takes over; plain runs are the same. The hosts' Python
        # named, as an inventory of SSH hosts may name it: over docker Mitogen
        # would discover it again for every task.
        reach = {"ansible_connection": "docker", "ansible_python_interpreter": "/usr/bin/python3"}
        stacks = {PREFIX + name: {**reach, **stack} for name, stack in STACKS.items()}
        fleet = {PREFIX + name: {**reach, **FLEET_STACK} for name in FLEET}
        self.inventory.write_text(json.dumps({"all": {"vars": GROUP_VARS, "children": {"web": {"children": {
            "stacks": {"hosts": stacks}, "fleet": {"hosts": fleet}}}}}}))
        # The baseline's inventory as that tree's bench wrote it.
        baseline = {PREFIX + "baseline": {"ansible_connection": "community.docker.docker", **STACKS["nginx-gunicorn"]}}
        self.baseline_inventory.write_text(json.dumps({"all": {"vars": GROUP_VARS, "children": {"web": {"hosts": baseline}}}}))

    def unpack_baseline(self):
        """The BASELINE tree in work/baseline; False where this is no git
        checkout holding it (a tarball)."""
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE], capture_output=True, check=False)
        if archive.returncode != 0:
            return False
        self.baseline.mkdir()
        subprocess.run(["tar", "-x", "-C", str(self.baseline)], input=archive.stdout, check=True)
        return True

    def playbook(self, playbook, *args, env=None, baseline=False):
        """Runs a playbook, on Mitogen's strategy unless env says otherwise;
        with baseline, the BASELINE tree's playbook on its own host, as that
        tree ran (its ansible.cfg, the linear strategy). Returns (seconds,
        output)."""
        root = self.baseline if baseline else ROOT
        path = playbook if os.path.isabs(playbook) else str(root / "playbooks" / playbook)
        inventory = self.baseline_inventory if baseline else self.inventory
        base = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_STRATEGY")}
        base["ANSIBLE_CONFIG"] = str(root / "ansible.cfg")
        strategy = {} if baseline else mitogen_env()
        started = time.monotonic()
        out = subprocess.run(
            ["ansible-playbook", "-i", str(inventory), path, *args],
            text=True, capture_output=True, check=False, cwd=root,
            env={**base, **strategy, "ANSIBLE_NOCOLOR": "1", **(env or {})},
        )
        took = time.monotonic() - started
        if out.returncode != 0:
            raise RuntimeError(f"{playbook} {' '.join(args)} failed:\n{out.stdout[-3000:]}{out.stderr[-2000:]}")
        return took, out.stdout


def wrk(host, url, seconds, connections):
    """(requests/s, p99 in ms) of one wrk run inside the host."""
    out = sh(host, f"wrk -t2 -c{connections} -d{seconds}s --latency -H 'Host: localhost' {url}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    # A server that closes the connection after each answer (uWSGI's
    # http-socket) gives read errors: wrk reconnects, nothing failed. Other
    # answers than 2xx, refused connections and timeouts are failures.
    errors = re.search(r"Non-2xx or 3xx responses: \d+|Socket errors: connect [1-9].*|Socket errors: .*timeout [1-9]\d*", out)
    if errors:
        raise RuntimeError(f"{host} {url}: {errors.group(0)}\n{out}")
    return rps, p99


def compare(host, a, b, args):
    """A and B in turn, args.rounds times; the per-round figures."""
    rounds = []
    for number in range(args.rounds):
        order = (("a", a), ("b", b)) if number % 2 == 0 else (("b", b), ("a", a))
        got = {side: wrk(host, url, args.seconds, args.connections) for side, url in order}
        rounds.append({"a_rps": got["a"][0], "b_rps": got["b"][0], "a_p99": got["a"][1], "b_p99": got["b"][1]})
    return rounds


def summary(values):
    return {"median": statistics.median(values), "low": min(values), "high": max(values)}


def prepare_direct(host, stack):
    """An HTTP listener of the app server on 127.0.0.1:8001 (Gunicorn: the
    role's own gunicorn_tcp_port; uWSGI: a second uWSGI with the same [app]
    section, as the role's trial runs it)."""
    if stack["pydeploy_app_server"] == "uwsgi":
        run_as_app(host, "bench-uwsgi", "/usr/bin/uwsgi-core --ini /etc/hello/uwsgi.ini:app --http-socket 127.0.0.1:8001")
    wait_for(host, "http://127.0.0.1:8001/health")


def run_as_app(host, unit, command):
    """`command` as a transient unit, as the app user with the app's
    environment, in the current release."""
    sh(host, f"systemctl stop {unit} 2>/dev/null; systemd-run --unit={unit} -p User=hello -p Group=hello "
             f"-p EnvironmentFile=/etc/hello/env -p WorkingDirectory=/srv/hello/current {command}")


def wait_for(host, url):
    """Until `url` answers 200 in the host (60 s at most)."""
    for _ in range(60):
        if sh(host, f"curl -s --cacert /etc/ssl/pydeploy/pydeploy-ca.crt -o /dev/null -w '%{{http_code}}' {url}", check=False) == "200":
            return
        time.sleep(1)
    raise RuntimeError(f"{host}: {url} does not answer")


def prepare_tutorial(host):
    """The usual tutorial's stack beside ours: gunicorn -w 4 on
    127.0.0.1:8000 (the same release, user and environment), Nginx
    proxy_pass to it without upstream keep-alive, on 8443 (same certificate)."""
    run_as_app(host, "bench-tutorial", "/srv/hello/current/venv/bin/gunicorn -w 4 -b 127.0.0.1:8000 wsgi:app")
    sh(host, f"cat > /etc/nginx/sites-enabled/bench-tutorial.conf <<'EOF'\n{TUTORIAL_SITE}EOF\nnginx -t -q && systemctl reload nginx")
    wait_for(host, "https://localhost:8443/health")


def cleanup_tutorial(host):
    sh(host, "systemctl stop bench-tutorial; rm -f /etc/nginx/sites-enabled/bench-tutorial.conf; systemctl reload nginx", check=False)


def throughput(args, results):
    for name, stack in STACKS.items():
        if stack["pydeploy_app_server"] == "mod_wsgi":
            results.append({"group": 1, "what": f"{name}: GET / through the front end vs the app server", "skipped":
                            "mod_wsgi runs inside Apache: the front end is the app server"})
            continue
        prepare_direct(name, stack)
        rounds = compare(name, "http://127.0.0.1:8001/", "https://localhost/", args)
        results.append({"group": 1, "what": f"{name}: GET / through the front end vs straight to the app server",
                        "a": "app server", "b": "front end", "goal": 0.9, "rounds": rounds})
        rounds = compare(name, f"http://127.0.0.1:8001{STATIC}", f"https://localhost{STATIC}", args)
        results.append({"group": 2, "what": f"{name}: a static file through the front end vs served by the app",
                        "a": "app", "b": "front end", "goal": 20, "rounds": rounds})
    prepare_tutorial("nginx-gunicorn")
    try:
        rounds = compare("nginx-gunicorn", "https://localhost:8443/", "https://localhost/", args)
    finally:
        cleanup_tutorial("nginx-gunicorn")
    results.append({"group": 3, "what": "nginx-gunicorn: our defaults vs the tutorial's (gunicorn -w 4, no upstream keep-alive)",
                    "a": "tutorial", "b": "ours", "goal": 1.2, "rounds": rounds, "p99_lower": True})


def checks_play(tmp, every_host):
    """site.yml's input checks alone, as its first play has them (hosts,
    variables), without facts: every host of the batch in one task
    (check_inputs' hosts, as playbooks/tasks/check-inputs.yml runs them), or
    a task for each host (without hosts), each host's own roles either way."""
    import yaml  # noqa: PLC0415

    site = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())[0]
    check = {"name": "Check the input", "pydeploy.wsgi.check_inputs": {
        "checks": "playbooks/checks/inputs.yml", "roles_var": "__pydeploy_checked_roles"}, "register": "inputs"}
    tasks = [check]
    if every_host:
        check["pydeploy.wsgi.check_inputs"]["hosts"] = "{{ ansible_play_batch }}"
        check["run_once"] = True
        tasks.append({"name": "Stop a host whose input failed", "ansible.builtin.fail": {"msg": "{{ inputs.hosts[inventory_hostname].msg }}"},
                      "when": "inputs.hosts[inventory_hostname].failed | default(false)"})
    play = {key: site[key] for key in ("name", "hosts", "vars")}
    play.update(gather_facts=False, vars_files=[str(ROOT / "playbooks" / name) for name in site["vars_files"]], tasks=tasks)
    path = tmp / f"checks-{'together' if every_host else 'apart'}.yml"
    path.write_text(json.dumps([play]))
    return path


def ansible_times(bed, args, results, tmp, part=None):
    """Seconds of playbook runs, each pair in turn for --ansible-rounds rounds
    (part "deploy": the code-only deploys alone; "idempotent": the idempotent
    runs' goals and what sparing unchanged hosts bought)."""
    deploys_only = part == "deploy"
    noop = tmp / "noop.yml"
    noop.write_text("- name: No-op\n  hosts: web\n  gather_facts: true\n  tasks:\n    - name: Nothing\n      ansible.builtin.ping:\n")
    cache = tmp / "facts"
    one = f"{PREFIX}nginx-gunicorn"

    def pair(what, a, b, goal, a_label, b_label):
        rounds = []
        for number in range(args.ansible_rounds):
            order = (("a", a), ("b", b)) if number % 2 == 0 else (("b", b), ("a", a))
            took = {side: run_it() for side, run_it in order}
            rounds.append({"a_s": took["a"], "b_s": took["b"]})
        results.append({"group": 4, "what": what, "a": a_label, "b": b_label, "goal": goal, "rounds": rounds, "time": True})
        ratio = statistics.median(r["b_s"] / r["a_s"] for r in rounds)
        print(f"  {what}: {ratio:.2f}x", flush=True)

    def site(*args, env=None):
        return lambda: bed.playbook("site.yml", *args, env=env)[0]

    if not deploys_only:
        pair("idempotent site.yml vs a no-op play (4 hosts)",
             lambda: bed.playbook(str(noop), "--limit", "stacks")[0], site("--limit", "stacks"), 10, "no-op play", "site.yml")
        pair("idempotent site.yml on 8 hosts vs 1", site("--limit", one), site(), 2, "1 host", "8 hosts")
    if part == "idempotent":
        # The floor of that slope on this bed: the 8 hosts are containers on
        # the controller's own cores, their facts and Python's start included.
        pair("a no-op play on 8 hosts vs 1 (the floor of the slope above)",
             lambda: bed.playbook(str(noop), "--limit", one)[0], lambda: bed.playbook(str(noop))[0], None, "1 host", "8 hosts")
    if part == "idempotent":
        pair("input checks of 8 hosts: a task for each host vs one for all (check_inputs hosts, what compiling once bought)",
             lambda: bed.playbook(str(checks_play(tmp, every_host=True)))[0],
             lambda: bed.playbook(str(checks_play(tmp, every_host=False)))[0], None, "one for all", "one each")
        pair("idempotent site.yml (4 hosts) through every task vs spared as unchanged (what pydeploy_skip_unchanged bought)",
             site("--limit", "stacks"), site("--limit", "stacks", "-e", "pydeploy_skip_unchanged=false"), None, "spared", "every task")
        # The input checks' and the record's templates compiled by each run
        # (the cache off) against kept from the runs before.
        pair("idempotent site.yml on 8 hosts: the roles' templates kept vs compiled in each run (what the template cache bought)",
             site(), site(env={"PYDEPLOY_TEMPLATE_CACHE_DIR": ""}), None, "kept", "compiled")
        return
    counter = iter(range(1000))

    def deploy(limit, wheelhouse=True, env=None, baseline=False):
        # A new version of the example app each time: a release to build.
        # The dependencies built once on the controller (app_wheelhouse), as
        # an inventory of several app hosts has it, or on each host.
        source = tmp / f"v{next(counter)}"
        shutil.copytree(ROOT / "examples" / "flask_app", source, ignore=shutil.ignore_patterns("__pycache__"))
        init = source / "hello" / "__init__.py"
        init.write_text(re.sub(r'__version__ = "[^"]+"', f'__version__ = "{source.name}"', init.read_text()))
        return bed.playbook("deploy.yml", "--limit", limit, "-e", "pydeploy_serial=100%", "-e", f"app_src={source}",
                            "-e", f"app_wheelhouse={str(wheelhouse).lower()}", env=env, baseline=baseline)[0]

    if bed.unpack_baseline():
        print(f"  deploying {PREFIX}baseline with {BASELINE} ...", flush=True)
        bed.playbook("site.yml", baseline=True)
        pair(f"code-only deploy.yml of 1 host: this tree vs {BASELINE} (before issue 26) with its settings",
             lambda: deploy(f"{PREFIX}baseline", baseline=True), lambda: deploy(one), 0.5, BASELINE, "this tree")
    else:
        results.append({"group": 4, "what": f"code-only deploy.yml of 1 host: this tree vs {BASELINE}",
                        "skipped": f"not a git checkout holding {BASELINE}"})
    three = f"{PREFIX}nginx-gunicorn,{PREFIX}apache-gunicorn,{PREFIX}nginx-uwsgi"
    pair("code-only deploy.yml on 3 hosts at once vs 1 (dependencies from the controller's wheelhouse)",
         lambda: deploy(one), lambda: deploy(three), 1.5, "1 host", "3 hosts")
    pair("code-only deploy.yml on 3 hosts, each host building vs the controller's wheelhouse (what it bought)",
         lambda: deploy(three), lambda: deploy(three, wheelhouse=False), None, "wheelhouse", "each host builds")
    pair("code-only deploy.yml on 1 host with Ansible's linear strategy vs Mitogen's (what Mitogen buys)",
         lambda: deploy(one), lambda: deploy(one, env=LINEAR), None, "mitogen_linear", "linear")
    if deploys_only:
        return
    base = site("--limit", "stacks")
    # The levers below act on a run of every task (a host spared as
    # unchanged runs a handful): measured on such runs.
    every = ("--limit", "stacks", "-e", "pydeploy_skip_unchanged=false")
    full = site(*every)
    pair("idempotent site.yml (4 hosts) through every task vs spared as unchanged (what pydeploy_skip_unchanged bought)",
         base, full, None, "spared", "every task")
    pair("idempotent site.yml (4 hosts, every task) with Ansible's linear strategy vs Mitogen's (what Mitogen buys)", full,
         site(*every, env=LINEAR), None, "mitogen_linear", "linear")
    pair("idempotent site.yml (4 hosts, every task) on Mitogen with every collection of the `ansible` package vs the ones used",
         full, site(*every, env=EVERY_COLLECTION), None, "used collections", "every collection")
    pair("idempotent site.yml (4 hosts, every task, linear strategy) without pipelining vs with (what pipelining bought)",
         site(*every, env=LINEAR), site(*every, env={**LINEAR, "ANSIBLE_PIPELINING": "False"}),
         None, "pipelining", "no pipelining")
    cached = {"ANSIBLE_CACHE_PLUGIN": "jsonfile", "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(cache), "ANSIBLE_GATHERING": "smart"}
    bed.playbook("site.yml", *every, env=cached)
    pair("idempotent site.yml (4 hosts, every task) without fact caching vs with (what fact caching bought)",
         site(*every, env=cached), full, None, "fact cache", "no fact cache")
    pair("idempotent site.yml (4 hosts, every task) with cache_valid_time 0 vs 3600 (what cache_valid_time bought)", full,
         site(*every, "-e", "python_apt_cache_valid_time=0"), None, "3600", "0")

def table(results):
    lines = ["| # | comparison (B vs A) | A | B | B/A median | spread | p99 A → B (ms) | goal | met |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in results:
        if "skipped" in row:
            lines.append(f"| {row['group']} | {row['what']} | | | n/a | | | | {row['skipped']} |")
            continue
        if row.get("time"):
            ratios = [r["b_s"] / r["a_s"] for r in row["rounds"]]
            a = statistics.median(r["a_s"] for r in row["rounds"])
            b = statistics.median(r["b_s"] for r in row["rounds"])
            cells = (f"{row['a']}: {a:.1f} s", f"{row['b']}: {b:.1f} s", "")
            met = "" if row["goal"] is None else ("yes" if statistics.median(ratios) <= row["goal"] else "no")
            goal = "" if row["goal"] is None else f"≤ {row['goal']}x"
        else:
            ratios = [r["b_rps"] / r["a_rps"] for r in row["rounds"]]
            a = statistics.median(r["a_rps"] for r in row["rounds"])
            b = statistics.median(r["b_rps"] for r in row["rounds"])
            p99a = statistics.median(r["a_p99"] for r in row["rounds"])
            p99b = statistics.median(r["b_p99"] for r in row["rounds"])
            cells = (f"{row['a']}: {a:.0f} req/s", f"{row['b']}: {b:.0f} req/s", f"{p99a:.1f} → {p99b:.1f}")
            ok = statistics.median(ratios) >= row["goal"] and (not row.get("p99_lower") or p99b < p99a)
            met = "yes" if ok else "no"
            goal = f"≥ {row['goal']}x" + (", lower p99" if row.get("p99_lower") else "")
        s = summary(ratios)
        lines.append(f"| {row['group']} | {row['what']} | {cells[0]} | {cells[1]} | {s['median']:.2f}x | "
                     f"{s['low']:.2f}–{s['high']:.2f} | {cells[2]} | {goal} | {met} |")
    return "\n".join(lines)


def chart(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if "rounds" in r]
    labels, medians, lows, highs, goals = [], [], [], [], []
    for row in rows:
        ratios = [r["b_s"] / r["a_s"] for r in row["rounds"]] if row.get("time") else [r["b_rps"] / r["a_rps"] for r in row["rounds"]]
        s = summary(ratios)
        labels.append(f"{row['group']}. {row['what'][:60]}")
        medians.append(s["median"])
        lows.append(s["median"] - s["low"])
        highs.append(s["high"] - s["median"])
        goals.append(row["goal"])
    fig, ax = plt.subplots(figsize=(11, 0.5 * len(rows) + 1.5))
    y = range(len(rows))
    ax.barh(list(y), medians, xerr=[lows, highs], color="#4a7ab5", capsize=3)
    for i, goal in enumerate(goals):
        if goal is not None:
            ax.plot([goal, goal], [i - 0.4, i + 0.4], color="#c0392b", linewidth=2)
    ax.set_yticks(list(y), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("ratio B/A (median, bars: lowest to highest round; red: goal)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each wrk comparison")
    parser.add_argument("--seconds", type=int, default=8, help="seconds of each wrk run (at most 60)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (at most 256)")
    parser.add_argument("--ansible-rounds", type=int, default=3, help="rounds of each playbook comparison")
    parser.add_argument("--only", choices=["throughput", "ansible", "deploy", "idempotent"],
                        help="one half of the benchmarks, or of the Ansible half the code-only deploys alone, or the idempotent runs")
    parser.add_argument("--out", default=str(ROOT / ".cache" / "bench"), help="folder for the table, figures and chart")
    args = parser.parse_args()
    if not (1 <= args.rounds <= 20 and 1 <= args.seconds <= 60 and 1 <= args.connections <= 256 and 1 <= args.ansible_rounds <= 10):
        sys.exit("bench: --rounds 1-20, --seconds 1-60, --connections 1-256, --ansible-rounds 1-10")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        bed = Bed(pathlib.Path(tmp))
        bed.write_inventory()
        started = time.monotonic()
        ansible = args.only != "throughput"
        hosts = "web" if ansible else "stacks"
        print(f"deploying the 4 stacks ({', '.join(STACKS)})" + (f" and {len(FLEET)} more hosts" if ansible else "") + " ...",
              flush=True)
        # wrk before the deploy: a package installed after it changes what the
        # run recorded (the installed packages), and the first idempotent run
        # timed would be a run of every task, not an unchanged host's.
        for name in STACKS:
            sh(name, "command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk curl >/dev/null)")
        took, _ = bed.playbook("site.yml", "--limit", hosts)
        print(f"  site.yml took {took:.0f} s", flush=True)
        if args.only in (None, "throughput"):
            print("measuring throughput (wrk inside each host) ...", flush=True)
            throughput(args, results)
        if ansible:
            print("timing Ansible runs ...", flush=True)
            ansible_times(bed, args, results, pathlib.Path(tmp), part=args.only if args.only in ("deploy", "idempotent") else None)
        print(f"  benchmarks took {time.monotonic() - started:.0f} s in all", flush=True)
    markdown = table(results)
    print()
    print(markdown)
    (out / "results.md").write_text(markdown + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    chart(results, out / "results.png")
    print(f"\nwritten: {out / 'results.md'}, {out / 'results.json'}, {out / 'results.png'}")


if __name__ == "__main__":
    if not shutil.which("ansible-playbook"):
        sys.exit("bench: run it through bench/run, which sets up the tools")
    main()
