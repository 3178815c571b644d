//! The record of backups made of this database, so `boardcast status` on any machine of the
//! cluster tells how old the newest one is.

use sqlx::FromRow;

use super::{Store, StoreResult};

/// Records kept; older ones are dropped as new ones arrive.
const KEPT: i64 = 100;

/// One finished backup.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct BackupRecord {
    pub id: String,
    pub path: String,
    pub node_id: String,
    pub created_at: i64,
    pub finished_at: i64,
    pub rows: i64,
    pub blobs: i64,
    pub bytes: i64,
}

impl Store {
    pub async fn record_backup(&self, backup: &BackupRecord) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "insert into backups (id, path, node_id, created_at, finished_at, rows, blobs, bytes) \
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&backup.id)
        .bind(&backup.path)
        .bind(&backup.node_id)
        .bind(backup.created_at)
        .bind(backup.finished_at)
        .bind(backup.rows)
        .bind(backup.blobs)
        .bind(backup.bytes)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "delete from backups where id not in \
             (select id from backups order by finished_at desc limit $1)",
        )
        .bind(KEPT)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest finished backup, if any.
    pub async fn last_backup(&self) -> StoreResult<Option<BackupRecord>> {
        Ok(sqlx::query_as(
            "select id, path, node_id, created_at, finished_at, rows, blobs, bytes \
             from backups order by finished_at desc limit 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }
}
