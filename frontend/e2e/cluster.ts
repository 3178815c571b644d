// The servers a scenario runs against, as the backend's harness describes them.

import { readFileSync } from "node:fs";

export interface ClusterNode {
  node_id: string;
  url: string;
  pid: number;
}

export interface Account {
  username: string;
  password: string;
  display_name?: string;
}

export interface Cluster {
  nodes: ClusterNode[];
  teacher: Account;
  colleague: Account;
}

export function cluster(): Cluster {
  const path = process.env.BOARDCAST_E2E_CLUSTER;
  if (!path) {
    throw new Error(
      "BOARDCAST_E2E_CLUSTER is not set: run the browser tests through `cargo test -p boardcast --test api browser`",
    );
  }
  return JSON.parse(readFileSync(path, "utf8")) as Cluster;
}

/** `kill -9` of a node: no shutdown, no goodbyes. */
export function killNode(node: ClusterNode): void {
  process.kill(node.pid, "SIGKILL");
}

/** Waits until each node lists the other in config.json and trusts its pages (CORS). */
export async function clusterReady(nodes: ClusterNode[]): Promise<void> {
  const trusts = async (node: ClusterNode, origin: string) =>
    (
      await fetch(`${node.url}/api/lessons`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "GET" },
      })
    ).headers.get("access-control-allow-origin") === origin;
  const deadline = Date.now() + 30_000;
  for (;;) {
    let ready = true;
    for (const node of nodes) {
      const config = (await (await fetch(`${node.url}/config.json`)).json()) as { api: string[] };
      ready &&= config.api.length === nodes.length;
      for (const other of nodes) ready &&= other === node || (await trusts(node, other.url));
    }
    if (ready) return;
    if (Date.now() > deadline) throw new Error("the nodes did not learn of each other");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
