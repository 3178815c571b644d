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
