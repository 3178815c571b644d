//! Boards, the codes they show and the pairings that let a teacher steer them.

use std::collections::HashSet;

use sqlx::FromRow;

use super::{
    batch::{placeholders, IN_LIST_CHUNK},
    Store, StoreResult,
};

/// A registered board.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct BoardRow {
    pub id: String,
    pub name: String,
    pub secret_digest: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

/// A pairing with the board it points at, as a teacher lists them.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct PairingRow {
    pub id: String,
    pub board_id: String,
    pub user_id: String,
    pub label: Option<String>,
    pub created_at: i64,
    pub board_name: String,
    pub board_last_seen_at: i64,
}

const PAIRING_SELECT: &str = "select p.id, p.board_id, p.user_id, p.label, p.created_at, \
    b.name as board_name, b.last_seen_at as board_last_seen_at \
    from pairings p join boards b on b.id = p.board_id";

impl Store {
    pub async fn create_board(&self, board: &BoardRow) -> StoreResult<()> {
        sqlx::query(
            "insert into boards (id, name, secret_digest, created_at, last_seen_at) \
             values ($1, $2, $3, $4, $5)",
        )
        .bind(&board.id)
        .bind(&board.name)
        .bind(&board.secret_digest)
        .bind(board.created_at)
        .bind(board.last_seen_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn find_board(&self, id: &str) -> StoreResult<Option<BoardRow>> {
        Ok(sqlx::query_as(
            "select id, name, secret_digest, created_at, last_seen_at from boards where id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records that the board was heard from at `now`.
    pub async fn touch_board(&self, id: &str, now: i64) -> StoreResult<()> {
        sqlx::query("update boards set last_seen_at = $1 where id = $2 and last_seen_at < $1")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives the board `code` until `expires_at`, replacing the board's earlier codes. `false`
    /// when another board holds the same code and it is still live: draw another.
    pub async fn issue_pairing_code(
        &self,
        board_id: &str,
        code: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query("delete from pairing_codes where board_id = $1")
            .bind(board_id)
            .execute(&mut *tx)
            .await?;
        let taken = sqlx::query(
            "insert into pairing_codes (code, board_id, expires_at) values ($1, $2, $3) \
             on conflict (code) do update set board_id = excluded.board_id, expires_at = excluded.expires_at \
             where pairing_codes.expires_at <= $4",
        )
        .bind(code)
        .bind(board_id)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() == 0 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Spends a live code and pairs its board with `user_id`, in one transaction: a code
    /// pairs once, even with two nodes racing. `None` for unknown, expired or spent codes.
    pub async fn pair_with_code(
        &self,
        code: &str,
        pairing_id: &str,
        user_id: &str,
        label: Option<&str>,
        now: i64,
    ) -> StoreResult<Option<PairingRow>> {
        let mut tx = self.begin_write().await?;
        let spent: Option<(String,)> = sqlx::query_as(
            "delete from pairing_codes where code = $1 and expires_at > $2 returning board_id",
        )
        .bind(code)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((board_id,)) = spent else {
            return Ok(None);
        };
        sqlx::query(
            "insert into pairings (id, board_id, user_id, label, created_at) values ($1, $2, $3, $4, $5)",
        )
        .bind(pairing_id)
        .bind(&board_id)
        .bind(user_id)
        .bind(label)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let sql = format!("{PAIRING_SELECT} where p.id = $1");
        let pairing = sqlx::query_as(&sql)
            .bind(pairing_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(pairing))
    }

    /// A teacher's pairings, newest first.
    pub async fn list_pairings(&self, user_id: &str) -> StoreResult<Vec<PairingRow>> {
        let sql = format!("{PAIRING_SELECT} where p.user_id = $1 order by p.created_at desc, p.id");
        Ok(sqlx::query_as(&sql)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn find_pairing(&self, id: &str) -> StoreResult<Option<PairingRow>> {
        let sql = format!("{PAIRING_SELECT} where p.id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Which of `ids` are pairings that still exist.
    pub async fn existing_pairings(&self, ids: &[String]) -> StoreResult<HashSet<String>> {
        let mut existing = HashSet::new();
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "select id from pairings where id in ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            existing.extend(query.fetch_all(&self.pool).await?);
        }
        Ok(existing)
    }

    /// Whether the teacher `user_id` is paired with the board.
    pub async fn is_paired(&self, user_id: &str, board_id: &str) -> StoreResult<bool> {
        let found: Option<String> = sqlx::query_scalar(
            "select id from pairings where user_id = $1 and board_id = $2 limit 1",
        )
        .bind(user_id)
        .bind(board_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Whether any teacher is paired with the board.
    pub async fn board_has_pairings(&self, board_id: &str) -> StoreResult<bool> {
        let found: Option<String> =
            sqlx::query_scalar("select id from pairings where board_id = $1 limit 1")
                .bind(board_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// Deletes a pairing; `false` when there was none.
    pub async fn delete_pairing(&self, id: &str) -> StoreResult<bool> {
        let deleted = sqlx::query("delete from pairings where id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Removes boards never paired (or no longer paired) and not heard from since
    /// `seen_before`, with their codes, state and event log; returns how many.
    pub async fn purge_unpaired_boards(&self, seen_before: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        // The boards are deleted first and name themselves, so a board paired meanwhile
        // keeps its rows: only what belonged to a deleted board goes.
        let removed: Vec<String> = sqlx::query_scalar(
            "delete from boards where last_seen_at < $1 \
             and not exists (select 1 from pairings p where p.board_id = boards.id) \
             returning id",
        )
        .bind(seen_before)
        .fetch_all(&mut *tx)
        .await?;
        for chunk in removed.chunks(IN_LIST_CHUNK) {
            let ids = placeholders(1, chunk.len());
            for table in ["pairing_codes", "board_states", "board_events"] {
                let sql = format!("delete from {table} where board_id in ({ids})");
                let mut query = sqlx::query(&sql);
                for id in chunk {
                    query = query.bind(id);
                }
                query.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(removed.len() as u64)
    }

    /// Deletes codes whose time has passed.
    pub async fn purge_expired_codes(&self, now: i64) -> StoreResult<u64> {
        Ok(
            sqlx::query("delete from pairing_codes where expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
