"""Starting, finding and stopping the local cluster's processes.

Every process is started in a session of its own, with its log in the cluster directory, and
its command line names the cluster directory: so `down` can find whatever is left of a
cluster (a restarted node, an orphaned child) by scanning /proc, and never touches a process
of another cluster or a pid the system has reused.
"""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request


def free_port():
    """A free loopback port: bind port 0 and let go of it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port):
    """Whether something accepts connections on the loopback `port`."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def spawn(args, log_path, env=None, cwd=None):
    """Starts `args` in a new session, stdout and stderr appended to `log_path`; its pid."""
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    return child.pid


def run(args, env=None, what=None):
    """Runs `args` to completion; raises with its output when it fails."""
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what or args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def alive(pid):
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as raw:
            return [part.decode(errors="replace") for part in raw.read().split(b"\0") if part]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []


def parent(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return 0


def all_pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def mentioning(text):
    """Pids whose command line mentions `text`, except this process and its ancestors."""
    mine = set()
    pid = os.getpid()
    while pid > 1:
        mine.add(pid)
        pid = parent(pid)
    return [pid for pid in all_pids() if pid not in mine and text in " ".join(cmdline(pid))]


def children(pid):
    return [child for child in all_pids() if parent(child) == pid]


def signal_quietly(pid, sig):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop(pid, grace):
    """SIGTERM, then SIGKILL if still running after `grace` seconds; to the whole session
    the process leads when it leads one, so its children stop with it."""
    if not alive(pid):
        return
    try:
        leads_group = os.getpgid(pid) == pid
    except ProcessLookupError:
        return
    send = (lambda sig: signal_quietly(-pid, sig)) if leads_group else (lambda sig: signal_quietly(pid, sig))
    send(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid) or leads_group:
        send(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def http_status(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code
    except (urllib.error.URLError, OSError):
        return None


def wait_until(check, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} within {seconds} s")


def is_root():
    return os.geteuid() == 0
