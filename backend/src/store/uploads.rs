//! Upload rows: who uploaded which blob under which name. The bytes are in the blob stores.

use sqlx::FromRow;

use super::{Store, StoreResult};

/// One upload, as recorded.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct UploadRow {
    pub id: String,
    pub owner_id: String,
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
    pub filename: String,
    pub stored_by: String,
    pub idempotency_key: Option<String>,
    pub created_at: i64,
}

/// A blob some upload refers to, and the node that received it first.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct CatalogEntry {
    pub sha256: String,
    pub size: i64,
    pub stored_by: String,
}

pub(super) const UPLOAD_COLUMNS: &str =
    "id, owner_id, sha256, size, content_type, filename, stored_by, idempotency_key, created_at";

impl Store {
    /// Records an upload. A second upload with the owner's same idempotency key fails with
    /// `Conflict { constraint: "uploads_owner_id_idempotency_key_key" }`.
    pub async fn insert_upload(&self, upload: &UploadRow) -> StoreResult<()> {
        sqlx::query(&format!(
            "insert into uploads ({UPLOAD_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&upload.id)
        .bind(&upload.owner_id)
        .bind(&upload.sha256)
        .bind(upload.size)
        .bind(&upload.content_type)
        .bind(&upload.filename)
        .bind(&upload.stored_by)
        .bind(&upload.idempotency_key)
        .bind(upload.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn find_upload(&self, id: &str) -> StoreResult<Option<UploadRow>> {
        Ok(sqlx::query_as(&format!(
            "select {UPLOAD_COLUMNS} from uploads where id = $1"
        ))
        .bind(id)
        .fetch_optional(self.read_pool())
        .await?)
    }

    /// The owner's upload made with `key`, if a retry finds one.
    pub async fn find_upload_by_key(
        &self,
        owner_id: &str,
        key: &str,
    ) -> StoreResult<Option<UploadRow>> {
        Ok(sqlx::query_as(&format!(
            "select {UPLOAD_COLUMNS} from uploads where owner_id = $1 and idempotency_key = $2"
        ))
        .bind(owner_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// An owner's uploads, newest first (every upload when `owner_id` is `None`).
    pub async fn list_uploads(&self, owner_id: Option<&str>) -> StoreResult<Vec<UploadRow>> {
        let query = format!(
            "select {UPLOAD_COLUMNS} from uploads where $1 is null or owner_id = $1 \
             order by created_at desc, id"
        );
        Ok(sqlx::query_as(&query)
            .bind(owner_id)
            .fetch_all(self.read_pool())
            .await?)
    }

    /// Deletes an upload row; its blob goes when no other upload refers to it (garbage
    /// collection on every node, after a grace period).
    pub async fn delete_upload(&self, id: &str) -> StoreResult<bool> {
        let deleted = sqlx::query("delete from uploads where id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Every blob an upload refers to: what each node's store should hold.
    pub async fn blob_catalog(&self) -> StoreResult<Vec<CatalogEntry>> {
        Ok(sqlx::query_as(
            "select sha256, max(size) as size, min(stored_by) as stored_by \
             from uploads group by sha256",
        )
        .fetch_all(self.read_pool())
        .await?)
    }
}
