"""The logs of any stack: a request id from the front end to the app's own
line, plain or JSON lines, files rotated with nothing lost, or the journal.

Shared by the scenarios of each pair (molecule.yml: additional_files_or_dirs):
nginx + gunicorn (default), apache + mod_wsgi and apache + gunicorn (apache),
nginx + uwsgi on Debian 12 and 13 (uwsgi). Each host's inventory says what
it runs (pydeploy_log_format, pydeploy_log_destination,
pydeploy_request_id_trust, the front end's own *_log_format) and each test
checks that:
- every request gets an id, returned to the client (X-Request-ID) and found
  once in the front end's line, the app server's line and the app's own line
  (mod_wsgi: Apache's line is the app server's); the access lines name the
  client the front end saw;
- a client's id is kept only where the inventory trusts it, and only one
  that looks like an id;
- JSON logs: every line parses (uWSGI: every request line; its own messages
  are text in the same file), with the fields the README lists;
- every file the collection writes for the app is in logrotate's dry run,
  once, in a config with a reopen (postrotate) and delaycompress;
- files: N requests, a forced rotation (logrotate -f, with the reopen each
  config names), M more: the live files hold exactly the M, the rotated ones
  exactly the N; after a second rotation the first rotated file is
  compressed; every request counted once, by its id;
- the journal: journalctl -u <app> has the app server's line of each request.
"""

import json
import re
import time
import uuid

import pytest

APP = "hello"
# What each JSON access line has, per writer (Apache and uWSGI give the time
# taken in microseconds, Nginx and Gunicorn in seconds).
JSON_FIELDS = {"time", "client", "method", "path", "protocol", "status", "bytes", "user_agent", "request_id"}
DURATION = {"nginx": "duration", "gunicorn": "duration", "apache": "duration_us", "mod_wsgi": "duration_us", "uwsgi": "duration_us"}
ROTATED = r"(\.\d+|-\d{8}-\d+)(\.gz)?"


class Logs:
    """Where the host's stack logs, and how, from its inventory."""

    def __init__(self, host):
        self.host = host
        variables = host.ansible.get_variables()
        self.front_end = variables.get("pydeploy_front_end", "nginx")
        self.app_server = variables.get("pydeploy_app_server", "gunicorn")
        shared = variables.get("pydeploy_log_format", "plain")
        self.front_end_format = variables.get(f"{self.front_end}_log_format", shared)
        server_format = {"gunicorn": "gunicorn_log_format", "uwsgi": "uwsgi_log_format"}.get(self.app_server)
        self.app_server_format = variables.get(server_format, shared) if server_format else self.front_end_format
        self.destination = variables.get("pydeploy_log_destination", "file")
        self.trust = bool(variables.get("pydeploy_request_id_trust", False))
        self.app_log = variables.get("app_env", {}).get("APP_LOG_FILE")
        self.app_log_format = variables.get("app_env", {}).get("APP_LOG_FORMAT", "plain")
        if "{{" in self.app_log_format:
            self.app_log_format = shared

    @property
    def front_end_log(self):
        return {"nginx": f"/var/log/nginx/{APP}.access.log", "apache": f"/var/log/apache2/{APP}.access.log"}[self.front_end]

    @property
    def app_server_log(self):
        """The file of the app server's request lines; None in the journal.
        mod_wsgi runs inside Apache: its lines are Apache's."""
        if self.app_server == "mod_wsgi":
            return self.front_end_log
        if self.destination == "journal":
            return None
        return {"gunicorn": f"/var/log/{APP}/access.log", "uwsgi": f"/var/log/{APP}/uwsgi.log"}[self.app_server]

    def files(self):
        """(path, format) of each live file this test counts lines in."""
        found = [(self.front_end_log, self.front_end_format)]
        if self.app_server_log and self.app_server_log != self.front_end_log:
            found.append((self.app_server_log, self.app_server_format))
        found.append((self.app_log, self.app_log_format))
        return found

    def send(self, count, *headers):
        """`count` requests through the front end, in one shell inside the
        host; returns the X-Request-ID each answer carried, in order."""
        tag = uuid.uuid4().hex[:8]
        extra = " ".join(f"-H '{header}'" for header in headers)
        out = self.host.check_output(
            f"for i in $(seq {count}); do curl -sk --max-time 10 -o /dev/null -D - {extra} "
            f"\"https://localhost/whoami?log={tag}-$i\" | tr -d '\\r' | sed -n 's/^x-request-id: //Ip'; done"
        )
        ids = out.split()
        assert len(ids) == count, out
        return ids

    def rotate(self):
        """logrotate -f with the front end's config (Debian's, for all its
        logs) and the app's (the app server's logs and the app's own)."""
        front = {"nginx": "nginx", "apache": "apache2"}[self.front_end]
        self.host.check_output(f"logrotate -f /etc/logrotate.d/{front} && logrotate -f /etc/logrotate.d/{APP}")

    def read(self, path):
        if path.endswith(".gz"):
            return self.host.check_output(f"zcat {path}")
        return self.host.file(path).content_string

    def rotated(self, path):
        """The rotated files of a live log: {name: content}."""
        folder, name = path.rsplit("/", 1)
        listing = self.host.check_output(f"ls {folder}").split()
        return {f"{folder}/{one}": self.read(f"{folder}/{one}") for one in listing if re.fullmatch(re.escape(name) + ROTATED, one)}

    def journal(self):
        unit = f"{APP}.service"
        return self.host.check_output(f"journalctl -u {unit} --no-pager -o cat")

    def reopened(self, deadline=60):
        """After a rotation, wait until the writers have opened the new files:
        until 6 requests in a row each land in every live file (one shell
        inside the host, at most `deadline` seconds). Returns the ids of
        these probes."""
        files = " ".join(path for path, _ in self.files())
        out = self.host.run(
            f"end=$(($(date +%s) + {deadline})); streak=0; "
            f"while [ $streak -lt 6 ] && [ $(date +%s) -lt $end ]; do "
            "id=$(curl -sk --max-time 10 -o /dev/null -D - 'https://localhost/whoami?log=probe' "
            "| tr -d '\\r' | sed -n 's/^x-request-id: //Ip'); echo \"$id\"; "
            f"if [ -n \"$id\" ] && [ $(grep -lF -- \"$id\" {files} | wc -l) -eq {len(self.files())} ]; "
            "then streak=$((streak + 1)); else streak=0; sleep 0.2; fi; done; [ $streak -ge 6 ]"
        )
        assert out.rc == 0, f"the writers did not reopen their logs within {deadline} s: {out.stdout[-500:]}"
        return out.stdout.split()


@pytest.fixture(scope="module")
def logs(host):
    return Logs(host)


def lines_with(text, ids):
    """How many lines hold each id."""
    counts = dict.fromkeys(ids, 0)
    for line in text.splitlines():
        for one in ids:
            if one in line:
                counts[one] += 1
    return counts


def test_every_answer_has_a_request_id_that_each_log_line_of_it_carries(logs):
    ids = logs.send(3)
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9._:@-]{8,128}", one) for one in ids), ids
    for path, _ in logs.files():
        assert set(lines_with(logs.read(path), ids).values()) == {1}, (path, ids)
    if logs.destination == "journal" and logs.app_server != "mod_wsgi":
        assert set(lines_with(logs.journal(), ids).values()) == {1}, ids


def test_a_client_id_is_kept_only_where_trusted_and_only_if_it_looks_like_one(logs):
    mine = f"client-{uuid.uuid4().hex}"
    kept = logs.send(1, f"X-Request-ID: {mine}")[0]
    assert (kept == mine) == logs.trust, (kept, mine)
    hostile = logs.send(1, 'X-Request-ID: bad"id;{}')[0]
    assert hostile != 'bad"id;{}' and re.fullmatch(r"[A-Za-z0-9._:@-]{8,128}", hostile), hostile


def check_json_lines(text, writer, path):
    """Every line parses (uWSGI's: every request line; its own messages
    share the file as text); the request lines have the fields."""
    requests = 0
    for line in text.splitlines():
        if writer == "uwsgi" and not line.startswith("{"):
            continue
        record = json.loads(line)
        if "request_id" in record and "status" in record:
            requests += 1
            missing = (JSON_FIELDS | {DURATION[writer]}) - record.keys()
            assert not missing, (path, missing, line)
            assert isinstance(record["status"], int) and isinstance(record["bytes"], int), line
            assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", record["time"]), line
    assert requests > 0, path


def test_access_lines_are_json_or_plain_as_the_inventory_says(logs):
    # A user agent with a quote, a backslash and a tab: escaped by the writer.
    agent = 'quote" back\\slash\ttab'
    ids = logs.send(2, f"User-Agent: {agent}")
    sources = [(path, kind, logs.front_end if path == logs.front_end_log else logs.app_server)
               for path, kind in logs.files()[:-1]]
    if logs.app_server_log is None:
        journal = [line for line in logs.journal().splitlines() if any(one in line for one in ids)]
        sources.append(("journal", logs.app_server_format, logs.app_server))
    for path, kind, writer in sources:
        text = "\n".join(journal) if path == "journal" else logs.read(path)
        mine = [line for line in text.splitlines() if any(one in line for one in ids)]
        assert len(mine) == 2, (path, mine)
        if kind == "json":
            # Every line of the request is JSON (uWSGI's messages are not).
            assert all(line.startswith("{") for line in mine), (path, mine)
            check_json_lines(text, writer, path)
            assert [json.loads(line)["user_agent"] for line in mine] == [agent, agent], (path, mine)
            clients = [json.loads(line)["client"] for line in mine]
        else:
            # The combined format, the id last.
            for line in mine:
                assert line.split()[-1] in ids and '"GET /whoami?log=' in line, (path, line)
                with pytest.raises(ValueError):
                    json.loads(line)
            clients = [line.split()[0] for line in mine]
        # The client the front end saw (curl on the host itself), in the app
        # server's line too: Gunicorn's behind a unix socket was empty.
        assert set(clients) <= {"127.0.0.1", "::1"}, (path, mine)
    for line in logs.read(logs.app_log).splitlines()[-2:]:
        if logs.app_log_format == "json":
            record = json.loads(line)
            assert {"time", "level", "message", "request_id"} <= record.keys(), line
        else:
            assert re.search(r" INFO hello \[[A-Za-z0-9._:@-]{8,128}\] GET /whoami", line), line


def test_rotation_loses_and_repeats_no_line(logs, capsys):
    paths = [path for path, _ in logs.files()]
    first = logs.send(20)
    logs.rotate()
    probes = logs.reopened()
    second = logs.send(12)
    for path in paths:
        live = logs.read(path)
        rotated = logs.rotated(path)
        assert len(rotated) >= 1, (path, rotated.keys())
        old = "\n".join(rotated.values())
        assert lines_with(live, first) == dict.fromkeys(first, 0), path
        assert lines_with(old, first) == dict.fromkeys(first, 1), path
        assert lines_with(live, second) == dict.fromkeys(second, 1), path
        assert lines_with(old, second) == dict.fromkeys(second, 0), path
        # Each probe once, in one file or the other.
        assert lines_with(live + "\n" + old, probes) == dict.fromkeys(probes, 1), path
    # The second rotation compresses the first rotated file (delaycompress),
    # not the newest; a second apart (rotated names may hold the time).
    time.sleep(1.1)
    logs.rotate()
    logs.reopened()
    for path in paths:
        holding = [name for name, text in logs.rotated(path).items() if first[0] in text]
        assert len(holding) == 1 and holding[0].endswith(".gz"), (path, holding)
        newest = [name for name, text in logs.rotated(path).items() if second[0] in text]
        assert len(newest) == 1 and not newest[0].endswith(".gz"), (path, newest)
        # The new file, as its config creates it, for its writer.
        owner = {"nginx": ("www-data", "adm"), "apache": ("root", "adm")}.get(
            logs.front_end if path == logs.front_end_log else "", (APP, APP))
        live = logs.host.file(path)
        assert (live.user, live.group, live.mode) == (*owner, 0o640), path
    with capsys.disabled():
        print(f"\n  logs ({logs.front_end} + {logs.app_server}): 20 + 12 requests and {len(probes)} probes, "
              f"counted by id in {len(paths)} files ({', '.join(paths)}), rotated twice: none lost or repeated")


def test_every_log_file_of_the_app_is_rotated_with_a_reopen(logs):
    # Each file the collection writes for the app (the front end's access
    # and error logs, the app server's, the app's own), as logrotate's own
    # dry run of the whole configuration sees it: one config, with a
    # postrotate command.
    folder = {"nginx": "/var/log/nginx", "apache": "/var/log/apache2"}[logs.front_end]
    files = logs.host.check_output(f"ls {folder}/{APP}.*.log /var/log/{APP}/*.log").split()
    assert {logs.front_end_log, f"{folder}/{APP}.error.log", logs.app_log} <= set(files), files
    dry = logs.host.run("logrotate --debug /etc/logrotate.conf")
    assert dry.rc == 0, dry.stderr[-2000:]
    out = dry.stdout + dry.stderr
    for path in files:
        assert len(re.findall(rf"considering log {re.escape(path)}$", out, re.M)) == 1, path
    for name in ({"nginx": "nginx", "apache": "apache2"}[logs.front_end], APP):
        config = logs.host.file(f"/etc/logrotate.d/{name}").content_string
        assert "postrotate" in config and "delaycompress" in config, name


def test_app_server_lines_go_to_files_or_the_journal_as_asked(logs):
    ids = logs.send(2)
    in_journal = lines_with(logs.journal(), ids)
    if logs.destination == "journal":
        assert in_journal == dict.fromkeys(ids, 1)
        assert not logs.host.file({"gunicorn": f"/var/log/{APP}/access.log", "uwsgi": f"/var/log/{APP}/uwsgi.log"}[logs.app_server]).exists
    else:
        assert in_journal == dict.fromkeys(ids, 0)
        assert lines_with(logs.read(logs.app_server_log), ids) == dict.fromkeys(ids, 1)
