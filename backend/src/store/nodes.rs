//! The node registry: each node upserts its row every few seconds, so the others know where
//! to reach it, whether it is alive and how far its blob sync is behind.

use sqlx::FromRow;

use super::{Store, StoreResult};

/// A node as it last reported itself.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct NodeRow {
    pub node_id: String,
    pub public_url: String,
    pub started_at: i64,
    pub last_seen_at: i64,
    pub blobs_missing: i64,
    pub bytes_behind: i64,
    pub last_sync_at: Option<i64>,
}

impl Store {
    /// Records that the node is alive, where it is and how its sync stands.
    pub async fn heartbeat(&self, node: &NodeRow) -> StoreResult<()> {
        sqlx::query(
            "insert into nodes (node_id, public_url, started_at, last_seen_at, blobs_missing, \
             bytes_behind, last_sync_at) values ($1, $2, $3, $4, $5, $6, $7) \
             on conflict (node_id) do update set public_url = excluded.public_url, \
             started_at = excluded.started_at, last_seen_at = excluded.last_seen_at, \
             blobs_missing = excluded.blobs_missing, bytes_behind = excluded.bytes_behind, \
             last_sync_at = excluded.last_sync_at",
        )
        .bind(&node.node_id)
        .bind(&node.public_url)
        .bind(node.started_at)
        .bind(node.last_seen_at)
        .bind(node.blobs_missing)
        .bind(node.bytes_behind)
        .bind(node.last_sync_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn find_node(&self, node_id: &str) -> StoreResult<Option<NodeRow>> {
        Ok(sqlx::query_as(
            "select node_id, public_url, started_at, last_seen_at, blobs_missing, bytes_behind, \
             last_sync_at from nodes where node_id = $1",
        )
        .bind(node_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every node that ever reported, by id.
    pub async fn list_nodes(&self) -> StoreResult<Vec<NodeRow>> {
        Ok(sqlx::query_as(
            "select node_id, public_url, started_at, last_seen_at, blobs_missing, bytes_behind, \
             last_sync_at from nodes order by node_id",
        )
        .fetch_all(self.read_pool())
        .await?)
    }
}
