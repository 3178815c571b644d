"""PostgreSQL under pg_auto_failover: a monitor, a primary and a synchronous standby.

Each member's keeper (`pg_autoctl run`, the "agent") runs as the first process of a pid
namespace of its own. pg_autoctl's helper processes outlive a killed keeper and restart
PostgreSQL by themselves; in a namespace, `kill -9` of the keeper takes every process of the
member with it, which is what losing its host looks like.

The failover timings are shortened from pg_auto_failover's defaults (about 30 s to notice a
dead primary, 30 s more before the new one takes writes) so the cluster is writable again
within seconds; the relation between them is kept: a keeper that loses the monitor and its
standby demotes itself (network_partition_timeout) before the monitor lets the new primary
take writes (primary_demote_timeout), so two primaries never take writes at once.
"""

import glob
import os
import shutil
import subprocess

from . import processes

# Monitor settings (pgautofailover.*), in milliseconds.
MONITOR_SETTINGS = {
    "health_check_period": 1000,
    "health_check_timeout": 1000,
    "health_check_max_retries": 1,
    "health_check_retry_delay": 500,
    "node_considered_unhealthy_timeout": 3000,
    "primary_demote_timeout": 8000,
}
# Keeper settings, in seconds: below primary_demote_timeout, see above.
KEEPER_SETTINGS = {"timeout.network_partition_timeout": "5"}

DATABASE = "boardcast"


MISSING = (
    "pg_auto_failover is not installed: "
    "apt-get install postgresql postgresql-15-auto-failover pg-auto-failover-cli"
)


def bin_dir():
    """The server programs of the newest PostgreSQL that has the pg_auto_failover extension."""
    found = sorted(glob.glob("/usr/share/postgresql/*/extension/pgautofailover.control"))
    if not found:
        raise RuntimeError(MISSING)
    version = found[-1].split("/")[4]
    return f"/usr/lib/postgresql/{version}/bin"


def pg_autoctl_program():
    program = shutil.which("pg_autoctl") or os.path.join(bin_dir(), "pg_autoctl")
    if not os.path.exists(program):
        raise RuntimeError(MISSING)
    return program


def superuser():
    """The database superuser: pg_autoctl runs initdb as the server's OS user."""
    return "postgres" if processes.is_root() else os.environ.get("USER") or "postgres"


class Postgres:
    """The database side of one cluster directory; `state` is the saved part of it."""

    def __init__(self, cluster_dir, state):
        self.root = os.path.join(cluster_dir, "postgres")
        self.state = state

    def runtime_dir(self, name):
        """Where a member's keeper keeps its pid file (without it, pg_autoctl uses /tmp)."""
        runtime = os.path.join(self.root, "xdg", f"run-{name}")
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        if processes.is_root():
            shutil.chown(runtime, "postgres", "postgres")
        return runtime

    def socket_dir(self):
        sockets = os.path.join(self.root, "sockets")
        os.makedirs(sockets, mode=0o700, exist_ok=True)
        if processes.is_root():
            shutil.chown(sockets, "postgres", "postgres")
        return sockets

    def environment(self, name):
        env = dict(os.environ)
        env.update(
            PATH=f"{bin_dir()}:{env.get('PATH', '/usr/bin:/bin')}",
            XDG_CONFIG_HOME=os.path.join(self.root, "xdg", "config"),
            XDG_DATA_HOME=os.path.join(self.root, "xdg", "share"),
            XDG_RUNTIME_DIR=self.runtime_dir(name),
            # The servers' sockets live in the cluster: Debian's default directory is only
            # writable by the `postgres` user, and two clusters must not share it.
            PG_REGRESS_SOCK_DIR=self.socket_dir(),
        )
        return env

    def pg_autoctl(self, name, *args):
        command = as_server_user([pg_autoctl_program(), *args])
        return processes.run(command, env=self.environment(name), what=f"pg_autoctl {args[0]}")

    def create(self):
        """Creates the monitor and two members; starts them; returns once replicating."""
        os.makedirs(os.path.join(self.root, "xdg"), exist_ok=True)
        if processes.is_root():
            shutil.chown(self.root, "postgres", "postgres")
            processes.run(["chown", "-R", "postgres:postgres", self.root])
        monitor = {"name": "monitor", "port": processes.free_port(), "pgdata": self.pgdata("monitor")}
        self.state["monitor"] = monitor
        self.pg_autoctl(
            "monitor", "create", "monitor", "--pgdata", monitor["pgdata"],
            "--pgport", str(monitor["port"]), "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl",
        )
        self.pg_autoctl("monitor", "config", "set", "--pgdata", monitor["pgdata"],
                        "postgresql.listen_addresses", "127.0.0.1")
        self.start("monitor")
        processes.wait_until(lambda: self.query(monitor["port"], "select 1", "pg_auto_failover") == "1",
                             60, "the monitor did not start")
        for setting, value in MONITOR_SETTINGS.items():
            self.query(monitor["port"], f"alter system set pgautofailover.{setting} = {value}", "pg_auto_failover")
        self.query(monitor["port"], "select pg_reload_conf()", "pg_auto_failover")
        self.state["members"] = []
        for name in ("pg1", "pg2"):
            member = {"name": name, "port": processes.free_port(), "pgdata": self.pgdata(name)}
            self.state["members"].append(member)
            self.pg_autoctl(
                name, "create", "postgres", "--pgdata", member["pgdata"], "--pgport", str(member["port"]),
                "--listen", "127.0.0.1", "--hostname", "127.0.0.1", "--pghost", self.socket_dir(), "--name", name, "--dbname", DATABASE,
                "--monitor", self.monitor_url(), "--auth", "trust", "--no-ssl",
                "--replication-quorum", "true",
            )
            for key, value in KEEPER_SETTINGS.items():
                self.pg_autoctl(name, "config", "set", "--pgdata", member["pgdata"], key, value)
            self.start(name)
            processes.wait_until(lambda: self.role(member) != "down", 120, f"{name} did not start")
        processes.wait_until(self.replicating, 120, "the standby did not catch up")

    def pgdata(self, name):
        return os.path.join(self.root, name)

    def monitor_url(self):
        return f"postgres://autoctl_node@127.0.0.1:{self.state['monitor']['port']}/pg_auto_failover?sslmode=disable"

    def database_url(self):
        """The multi-host URL the nodes use: they follow whichever host is read-write."""
        hosts = ",".join(f"127.0.0.1:{member['port']}" for member in self.state["members"])
        return f"postgres://{superuser()}@{hosts}/{DATABASE}?target_session_attrs=read-write"

    def entry(self, name):
        if name == "monitor":
            return self.state["monitor"]
        return next(member for member in self.state["members"] if member["name"] == name)

    def start(self, name):
        """Starts a member's keeper (which starts its PostgreSQL) in a pid namespace of its own."""
        entry = self.entry(name)
        runtime = self.runtime_dir(name)
        # A keeper killed with its namespace leaves pid files naming pids of that namespace;
        # in the next one the same numbers may be taken, so they must go.
        for folder, _, files in os.walk(runtime):
            for stale in (name for name in files if name.endswith(".pid")):
                os.remove(os.path.join(folder, stale))
        stale = os.path.join(entry["pgdata"], "postmaster.pid")
        if os.path.exists(stale) and not self.postmaster_pid(entry):
            os.remove(stale)
        command = in_own_pid_namespace(as_server_user([pg_autoctl_program(), "run",
                                                       "--pgdata", entry["pgdata"]]))
        entry["wrapper"] = processes.spawn(command, os.path.join(self.root, f"{name}.log"),
                                           env=self.environment(name))

    def agent_pid(self, entry):
        """The keeper's pid: the namespace's first process, the wrapper's only child."""
        wrapper = entry.get("wrapper")
        if not processes.alive(wrapper):
            return None
        if not namespaces_work():
            return wrapper
        found = [child for child in processes.children(wrapper) if processes.alive(child)]
        return found[0] if found else None

    def postmaster_pid(self, entry):
        for pid in processes.all_pids():
            args = processes.cmdline(pid)
            if len(args) > 2 and args[0].endswith("/postgres") and args[1:3] == ["-D", entry["pgdata"]]:
                if processes.alive(pid):
                    return pid
        return None

    def query(self, port, sql, database=DATABASE):
        """One statement's answer as text, or None when the server does not answer."""
        done = subprocess.run(
            [os.path.join(bin_dir(), "psql"), "-X", "-At", "-h", "127.0.0.1", "-p", str(port),
             "-U", superuser(), "-d", database, "-c", sql],
            capture_output=True, text=True, timeout=10, check=False,
        )
        return done.stdout.strip() if done.returncode == 0 else None

    def role(self, member):
        if not self.postmaster_pid(member):
            return "down"
        answer = self.query(member["port"], "select pg_is_in_recovery()")
        return {"f": "primary", "t": "standby"}.get(answer, "down")

    def replicating(self):
        """A primary whose commits wait for a streaming standby."""
        roles = [self.role(member) for member in self.state["members"]]
        if sorted(roles) != ["primary", "standby"]:
            return False
        primary = self.state["members"][roles.index("primary")]
        streaming = self.query(primary["port"],
                               "select count(*) from pg_stat_replication where sync_state in ('sync', 'quorum')")
        return streaming == "1"

    def describe(self):
        """The `postgres` part of cluster.json."""
        described = []
        for member in self.state["members"]:
            entry = {"name": member["name"], "role": self.role(member), "port": member["port"],
                     "pid": self.postmaster_pid(member)}
            entry["agent_pid"] = self.agent_pid(member)
            described.append(entry)
        return described

    def everything(self):
        monitor = [self.state["monitor"]] if "monitor" in self.state else []
        return monitor + self.state.get("members", [])


def as_server_user(command):
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` user."""
    if processes.is_root():
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *command]
    return command


def in_own_pid_namespace(command):
    if not namespaces_work():
        return command
    user = [] if processes.is_root() else ["--user", "--map-current-user"]
    return ["unshare", *user, "--pid", "--fork", "--kill-child", "--", *command]


_NAMESPACES = []


def namespaces_work():
    """Whether this machine lets us start pid namespaces (as root, or with user namespaces)."""
    if not _NAMESPACES:
        user = [] if processes.is_root() else ["--user", "--map-current-user"]
        done = subprocess.run(["unshare", *user, "--pid", "--fork", "true"], capture_output=True, check=False)
        _NAMESPACES.append(done.returncode == 0)
    return _NAMESPACES[0]
