"""The tests' commands on a container through a long-lived `docker exec`.

testinfra's docker backend starts a `docker exec <name> /bin/sh -c <command>`
for every command a test runs on a host (host.run, host.file, the Http
helper's curl): a Docker CLI, a call through dockerd, containerd, a shim and
runc each time, about 55 ms of CPU (100 execs: 5.6 CPU seconds, measured on
this machine) and more of waiting on a busy one: 2,469 of them in a CI
run of every scenario (CI62).

Here each command goes to a small Python agent on the container, started
once with `docker exec -i` and kept, which runs `/bin/sh -c <command>` as
`docker exec` would (the same user, environment and working folder: the
agent's, which `docker exec` gave it) and sends back the exit code, the
output and the errors. Like `docker exec`, a command is over when its shell
exits: output a process left running in the background writes after that
is not waited for. A session is used by one command at a time; a thread
that finds every session of the host busy starts another. A session that
breaks (its container stopped, the agent killed) is dropped: the command it
ran fails with an error saying so, and the next command starts a new one.

    install()   makes testinfra's DockerBackend.run use the sessions
"""

import atexit
import shlex
import struct
import subprocess
import threading

from testinfra.backend import docker as docker_backend

# The agent, run by the container's python3 (every host has it: Ansible
# needs it): a request is a command's length and bytes; the answer, its exit
# code and its output and errors, each with its length.
AGENT = r"""
import struct, subprocess, sys, threading, time
read, write = sys.stdin.buffer.read, sys.stdout.buffer
def drain(stream, into):
    for chunk in iter(lambda: stream.read1(65536), b""):
        into.append(chunk)
while True:
    head = read(4)
    if len(head) < 4:
        break
    command = read(struct.unpack(">I", head)[0])
    process = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = [], []
    readers = [threading.Thread(target=drain, args=(process.stdout, out), daemon=True),
               threading.Thread(target=drain, args=(process.stderr, err), daemon=True)]
    for reader in readers:
        reader.start()
    code = process.wait()
    # What the shell wrote is read at once (the pipes end with it); a
    # process it left running with them open is not waited for beyond two
    # seconds (docker exec's way: done when the shell is).
    deadline = time.monotonic() + 2
    for reader in readers:
        reader.join(max(0, deadline - time.monotonic()))
    answer = [struct.pack(">i", code)]
    for data in (b"".join(out), b"".join(err)):
        answer += [struct.pack(">I", len(data)), data]
    write.write(b"".join(answer))
    write.flush()
"""


class SessionBroken(RuntimeError):
    pass


class Session:
    """One agent on one container, as one user."""

    def __init__(self, name, user):
        self.name = name
        user_args = ["-u", user] if user else []
        self.process = subprocess.Popen(
            ["docker", "exec", "-i", *user_args, name, "python3", "-c", AGENT],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )

    def _read(self, size):
        data = b""
        while len(data) < size:
            chunk = self.process.stdout.read(size - len(data))
            if not chunk:
                raise SessionBroken("the agent's stream ended")
            data += chunk
        return data

    def run(self, command):
        try:
            self.process.stdin.write(struct.pack(">I", len(command)) + command)
            self.process.stdin.flush()
            code = struct.unpack(">i", self._read(4))[0]
            out = self._read(struct.unpack(">I", self._read(4))[0])
            err = self._read(struct.unpack(">I", self._read(4))[0])
        except (OSError, SessionBroken) as error:
            self.close()
            raise SessionBroken(f"the command's session on container {self.name} broke ({error})") from None
        return code, out, err

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


_idle = {}
_lock = threading.Lock()


def run(name, user, command):
    """(exit code, output, errors) of /bin/sh -c command on the container."""
    key = (name, user)
    with _lock:
        free = _idle.setdefault(key, [])
        session = free.pop() if free else None
    if session is None or session.process.poll() is not None:
        session = Session(name, user)
    code, out, err = session.run(command)
    with _lock:
        _idle[key].append(session)
    return code, out, err


def close_all():
    with _lock:
        sessions = [session for free in _idle.values() for session in free]
        _idle.clear()
    for session in sessions:
        session.close()


def install():
    def run_on_session(self, command, *args, **kwargs):
        cmd = self.get_command(command, *args)
        code, out, err = run(self.name, self.user, self.encode(cmd))
        result = self.result(code, self.encode(f"docker exec {shlex.quote(self.name)} /bin/sh -c {shlex.quote(cmd)}"), out, err)
        result.command = self.encode(cmd)
        return result

    docker_backend.DockerBackend.run = run_on_session
    atexit.register(close_all)
