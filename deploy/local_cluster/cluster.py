"""The commands of `deploy/local-cluster`: up, status, restart-node, down (and the supervisor
that `up` leaves running, which restarts a PostgreSQL member that died, as systemd's
`Restart=always` does on a real server)."""

import contextlib
import fcntl
import json
import os
import shutil
import sys
import time

from . import postgres, processes, services

STATE = ".local-cluster.json"
UP_WITHIN = 120
# How long a dead PostgreSQL member stays down before the supervisor starts it again.
RESTART_DELAY = 2
# How long a dead primary waits for the engine to promote another member before it is started
# again anyway (a failover that never comes must not leave the cluster without a database).
PRIMARY_RETURN_LIMIT = 60


class Cluster:
    def __init__(self, directory):
        self.dir = os.path.abspath(directory)
        self.state = {}

    @contextlib.contextmanager
    def locked(self):
        """Reads the saved state and writes it back, one command or supervisor round at a time."""
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, ".lock"), "w", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = os.path.join(self.dir, STATE)
            if os.path.exists(path):
                with open(path, encoding="utf-8") as saved:
                    self.state = json.load(saved)
            try:
                yield
            finally:
                with open(path + ".new", "w", encoding="utf-8") as out:
                    json.dump(self.state, out, indent=1)
                os.replace(path + ".new", path)

    @property
    def db(self):
        return postgres.Postgres(self.dir, self.state.setdefault("postgres", {}))

    def running_pids(self):
        return processes.mentioning(self.dir + "/")

    def up(self, count, nodes_ldap_url=None):
        with self.locked():
            if self.running_pids():
                raise RuntimeError(f"{self.dir} holds a running cluster: run `down --dir {self.dir}` first")
            binary = services.boardcast_binary()
            # What a cluster stopped earlier left: its data goes, logs of the last run too.
            for part in ("postgres", "ldap", "nodes", "spa"):
                shutil.rmtree(os.path.join(self.dir, part), ignore_errors=True)
            started = time.monotonic()
            self.state = {"binary": binary, "status": "starting"}
            if processes.is_root():
                # PostgreSQL runs as `postgres`, which must be able to reach its directory.
                os.chmod(self.dir, os.stat(self.dir).st_mode | 0o711)
            try:
                self.start_everything(count, started, nodes_ldap_url)
            except BaseException:
                self.stop_everything()
                raise
            described = self.write_description()
        print_welcome(described, time.monotonic() - started)

    def start_everything(self, count, started, nodes_ldap_url):
        self.db.create()
        ldap_url = services.start_slapd(self.dir, self.state)
        services.plan_nodes(self.dir, self.state, count, self.db.database_url(), nodes_ldap_url or ldap_url)
        for node in self.state["nodes"]:
            services.start_node(self.dir, self.state, node)
        left = max(UP_WITHIN - (time.monotonic() - started), 10)
        processes.wait_until(lambda: all(map(services.node_ready, self.state["nodes"])), left,
                             "not every node answered /readyz")
        self.state["spa"] = services.start_spa(self.dir, self.state)
        self.state["supervisor"] = processes.spawn(
            [sys.executable, os.path.join(services.REPO, "deploy", "local-cluster"), "supervise", "--dir", self.dir],
            os.path.join(self.dir, "supervisor.log"),
        )
        self.state["status"] = "up"

    def describe(self):
        ldap = self.state["ldap"]
        return {
            "nodes": [{"node_id": node["node_id"], "public_url": node["public_url"],
                       "pid": node["pid"] if processes.alive(node.get("pid")) else None}
                      for node in self.state["nodes"]],
            "postgres": self.db.describe(),
            "ldap": {"url": f"ldap://127.0.0.1:{ldap['port']}",
                     "pid": ldap["pid"] if processes.alive(ldap.get("pid")) else None,
                     "users": services.DEMO_USERS},
            "spa": self.state["spa"],
        }

    def write_description(self):
        described = self.describe()
        with open(os.path.join(self.dir, "cluster.json.new"), "w", encoding="utf-8") as out:
            json.dump(described, out, indent=2)
        os.replace(os.path.join(self.dir, "cluster.json.new"), os.path.join(self.dir, "cluster.json"))
        return described

    def status(self):
        with self.locked():
            self.require_up()
            described = self.write_description()
        print(json.dumps(described, indent=2))

    def restart_node(self, node_id):
        with self.locked():
            self.require_up()
            node = next((node for node in self.state["nodes"] if node["node_id"] == node_id), None)
            if node is None:
                known = ", ".join(node["node_id"] for node in self.state["nodes"])
                raise RuntimeError(f"no node {node_id} in this cluster (it has {known})")
            services.stop_node(node)
            services.start_node(self.dir, self.state, node)
            processes.wait_until(lambda: services.node_ready(node), UP_WITHIN, f"{node_id} did not answer /readyz")
            self.write_description()

    def restart_ldap(self):
        with self.locked():
            self.require_up()
            processes.stop(self.state["ldap"].get("pid"), 5)
            services.start_slapd(self.dir, self.state)
            self.write_description()

    def require_up(self):
        if self.state.get("status") != "up":
            raise RuntimeError(f"no cluster is up in {self.dir}")

    def down(self):
        with self.locked():
            self.stop_everything()
            if os.path.exists(os.path.join(self.dir, "cluster.json")) and "nodes" in self.state:
                self.write_description()

    def stop_everything(self):
        self.state["status"] = "down"
        processes.stop(self.state.get("supervisor"), 2)
        processes.stop(self.state.get("spa_pid"), 5)
        for node in self.state.get("nodes", []):
            services.stop_node(node)
        processes.stop(self.state.get("ldap", {}).get("pid"), 5)
        db = self.db
        for entry in reversed(db.everything()):
            processes.stop(entry.get("wrapper"), 15)
        for pid in self.running_pids():
            processes.stop(pid, 2)

    def supervise(self):
        """Restarts PostgreSQL members whose keeper died, until the cluster goes down.

        A dead standby (or monitor) is started again after RESTART_DELAY. A dead primary stands
        for a lost host: it stays down until the engine has promoted another member (or for at
        most PRIMARY_RETURN_LIMIT), otherwise a quick restart would race the failover and the
        old primary could simply resume."""
        dead_since = {}
        last_role = {}
        while True:
            with self.locked():
                if self.state.get("status") != "up":
                    return
                db = self.db
                members = db.state.get("members", [])
                for entry in db.everything():
                    name = entry["name"]
                    if processes.alive(entry.get("wrapper")):
                        dead_since.pop(name, None)
                        role = db.role(entry) if entry in members else "down"
                        if role != "down":
                            last_role[name] = role
                        continue
                    down_for = time.monotonic() - dead_since.setdefault(name, time.monotonic())
                    if last_role.get(name) == "primary":
                        others = [db.role(other) for other in members if other is not entry]
                        ready = "primary" in others or down_for >= PRIMARY_RETURN_LIMIT
                    else:
                        ready = down_for >= RESTART_DELAY
                    if ready:
                        print(f"{time.strftime('%H:%M:%S')} restarting {name}", flush=True)
                        db.start(name)
                        dead_since.pop(name, None)
                        last_role.pop(name, None)
            time.sleep(0.5)


def print_welcome(described, seconds):
    print(f"boardcast cluster up in {seconds:.0f} s\n")
    print(f"  browser app:  {described['spa']}")
    for node in described["nodes"]:
        print(f"  {node['node_id']}:         {node['public_url']}  (pid {node['pid']})")
    for member in described["postgres"]:
        print(f"  postgres {member['name']}:  port {member['port']}, {member['role']}")
    print(f"  directory:    {described['ldap']['url']}\n")
    print("  demo logins:")
    for user in described["ldap"]["users"]:
        print(f"    {user['username']} / {user['password']}  ({user['role']})")
