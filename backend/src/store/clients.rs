//! OAuth2 clients: the public `web` client and confidential clients added by an admin.

use sqlx::FromRow;

use super::{Store, StoreError, StoreResult};

/// A registered client; a `secret_hash` makes it confidential.
#[derive(Debug, Clone, FromRow)]
pub struct ClientRow {
    pub client_id: String,
    pub secret_hash: Option<String>,
    pub scope: String,
    pub created_at: i64,
}

impl Store {
    pub async fn find_client(&self, client_id: &str) -> StoreResult<Option<ClientRow>> {
        Ok(sqlx::query_as(
            "select client_id, secret_hash, scope, created_at from oauth_clients where client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn list_clients(&self) -> StoreResult<Vec<ClientRow>> {
        Ok(sqlx::query_as(
            "select client_id, secret_hash, scope, created_at from oauth_clients order by client_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Registers a client; an existing id is a `Conflict`.
    pub async fn create_client(&self, client: &ClientRow) -> StoreResult<()> {
        sqlx::query(
            "insert into oauth_clients (client_id, secret_hash, scope, created_at) values ($1, $2, $3, $4)",
        )
        .bind(&client.client_id)
        .bind(&client.secret_hash)
        .bind(&client.scope)
        .bind(client.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a client and, with it, every token issued to it.
    pub async fn remove_client(&self, client_id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("delete from tokens where client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("delete from oauth_clients where client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }
}
