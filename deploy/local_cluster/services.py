"""The directory (slapd), the boardcast nodes and the SPA's static server (nginx)."""

import json
import os
import secrets
import shutil
import subprocess

from . import processes

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LDIF = os.path.join(HERE, "demo-school.ldif")
SUFFIX = "dc=school,dc=example"
DEMO_USERS = [
    {"username": "jan", "password": "jan-demo", "role": "teacher"},
    {"username": "anna", "password": "anna-demo", "role": "teacher"},
    {"username": "ada", "password": "ada-demo", "role": "admin"},
]
# Seconds a node may take to drain (closing sockets with 1012, finishing requests) before
# `restart-node` kills it.
DRAIN_SECONDS = 15


def start_slapd(cluster_dir, state):
    root = os.path.join(cluster_dir, "ldap")
    os.makedirs(os.path.join(root, "db"), exist_ok=True)
    config = os.path.join(root, "slapd.conf")
    if "ldap" not in state:
        with open(config, "w", encoding="utf-8") as out:
            out.write(
                "include /etc/ldap/schema/core.schema\n"
                "include /etc/ldap/schema/cosine.schema\n"
                "include /etc/ldap/schema/inetorgperson.schema\n"
                f"pidfile {root}/slapd.pid\n"
                "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
                f"database mdb\nmaxsize 10485760\nsuffix \"{SUFFIX}\"\n"
                f"directory {root}/db\n"
                "access to attrs=userPassword by anonymous auth by * none\n"
                "access to * by users read by * none\n"
            )
        processes.run(["/usr/sbin/slapadd", "-f", config, "-l", LDIF], what="slapadd")
        state["ldap"] = {"port": processes.free_port()}
    url = f"ldap://127.0.0.1:{state['ldap']['port']}"
    state["ldap"]["pid"] = processes.spawn(
        ["/usr/sbin/slapd", "-d", "0", "-h", url, "-f", config], os.path.join(root, "slapd.log")
    )
    processes.wait_until(lambda: processes.port_open(state["ldap"]["port"]), 30, "slapd did not start")
    return url


def boardcast_binary():
    """LOCAL_CLUSTER_BINARY, or the node built from this checkout (built now if needed)."""
    given = os.environ.get("LOCAL_CLUSTER_BINARY")
    if given:
        return given
    built = subprocess.run(
        ["cargo", "build", "-p", "boardcast", "--bin", "boardcast", "--message-format=json-render-diagnostics"],
        cwd=REPO, stdout=subprocess.PIPE, text=True, check=False,
    )
    if built.returncode != 0:
        raise RuntimeError("building boardcast failed (see above)")
    for line in built.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message.get("executable") and \
                message["target"]["name"] == "boardcast":
            return message["executable"]
    raise RuntimeError("cargo built no boardcast executable")


def plan_nodes(cluster_dir, state, count, database_url, ldap_url):
    """Chooses ports and writes each node's config file."""
    ports = [processes.free_port() for _ in range(count)]
    state["spa_port"] = processes.free_port()
    state["secret"] = secrets.token_urlsafe(36)
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    state["nodes"] = []
    for index, port in enumerate(ports):
        node_id = f"api{index + 1}"
        root = os.path.join(cluster_dir, "nodes", node_id)
        os.makedirs(root, exist_ok=True)
        config = os.path.join(root, "boardcast.toml")
        peers = [url for url in urls if url != urls[index]]
        with open(config, "w", encoding="utf-8") as out:
            out.write(
                f'node_id = "{node_id}"\nlisten = "127.0.0.1:{port}"\npublic_url = "{urls[index]}"\n'
                f'data_dir = "{root}/data"\ndatabase_url = "{database_url}"\npeers = {json.dumps(peers)}\n\n'
                f'[web]\nallowed_origins = ["http://127.0.0.1:{state["spa_port"]}"]\n\n'
                f'[ldap]\nurls = ["{ldap_url}"]\nbind_dn = "cn=reader,{SUFFIX}"\n'
                f'bind_password = "reader-demo-secret"\nuser_base = "ou=people,{SUFFIX}"\n'
                f'teacher_group = "cn=teachers,ou=groups,{SUFFIX}"\n'
                f'admin_group = "cn=admins,ou=groups,{SUFFIX}"\n\n'
                # Every board of the demo registers from 127.0.0.1, as a whole school does
                # from behind one NAT on the day its boards are installed.
                "[pairing]\nmax_boards_per_address_per_hour = 1000\n"
            )
        state["nodes"].append({"node_id": node_id, "public_url": urls[index], "config": config})


def start_node(cluster_dir, state, node):
    # Nodes take settings from BOARDCAST_* variables too: the cluster's come from its files.
    env = {key: value for key, value in os.environ.items() if not key.startswith("BOARDCAST_")}
    env.update(BOARDCAST_CLUSTER_SECRET=state["secret"], RUST_LOG=os.environ.get("RUST_LOG", "info"))
    log = os.path.join(cluster_dir, "nodes", node["node_id"], "node.log")
    node["pid"] = processes.spawn([state["binary"], "serve", "--config", node["config"]], log, env=env)


def node_ready(node):
    return processes.http_status(node["public_url"] + "/readyz") == 200


def stop_node(node):
    processes.stop(node.get("pid"), DRAIN_SECONDS)


def start_spa(cluster_dir, state):
    """nginx serving the built SPA, with a config.json that lists every node."""
    root = os.path.join(cluster_dir, "spa")
    site = os.path.join(root, "site")
    dist = os.path.join(REPO, "frontend", "dist")
    if not os.path.exists(os.path.join(dist, "index.html")):
        raise RuntimeError(f"{dist} is missing: build the browser app (cd frontend && npm ci && npm run build)")
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(dist, site)
    with open(os.path.join(site, "config.json"), "w", encoding="utf-8") as out:
        json.dump({"api": [node["public_url"] for node in state["nodes"]]}, out)
    os.makedirs(os.path.join(root, "temp"), exist_ok=True)
    locations = os.path.join(REPO, "deploy", "nginx", "spa-locations.conf")
    with open(os.path.join(root, "nginx.conf"), "w", encoding="utf-8") as out:
        out.write(
            ("user root;\n" if processes.is_root() else "")
            + f"worker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n"
            "events { worker_connections 256; }\n"
            "http {\n  include /etc/nginx/mime.types;\n"
            f"  access_log {root}/access.log;\n  client_body_temp_path {root}/temp;\n"
            f"  proxy_temp_path {root}/temp;\n  fastcgi_temp_path {root}/temp;\n"
            f"  uwsgi_temp_path {root}/temp;\n  scgi_temp_path {root}/temp;\n"
            f"  server {{\n    listen 127.0.0.1:{state['spa_port']};\n    root {site};\n"
            f"    include {locations};\n  }}\n}}\n"
        )
    state["spa_pid"] = processes.spawn(
        ["/usr/sbin/nginx", "-p", root, "-c", os.path.join(root, "nginx.conf"), "-e", os.path.join(root, "error.log"),
         "-g", "daemon off;"],
        os.path.join(root, "nginx.log"),
    )
    url = f"http://127.0.0.1:{state['spa_port']}/"
    processes.wait_until(lambda: processes.http_status(url + "config.json") == 200, 30, "nginx did not serve the SPA")
    return url
