//! Lesson rows and the uploads they show. A save is one transaction: the row and its
//! `lesson_media` rows change together, and an update applies only to the version it edited.

use sqlx::{AnyConnection, FromRow};

use super::{batch::placeholders, Store, StoreResult, UploadRow};

/// A lesson as stored; `slides` is the validated JSON array.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct LessonRow {
    pub id: String,
    pub owner_id: String,
    pub title: String,
    pub version: i64,
    pub slides: String,
    pub slide_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What became of an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LessonUpdate {
    Updated,
    /// Someone saved another version first: nothing was written.
    Stale,
    NotFound,
}

const LESSON_COLUMNS: &str =
    "id, owner_id, title, version, slides, slide_count, created_at, updated_at";

impl Store {
    /// Stores a new lesson showing `uploads`.
    pub async fn insert_lesson(&self, lesson: &LessonRow, uploads: &[String]) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "insert into lessons ({LESSON_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&lesson.id)
        .bind(&lesson.owner_id)
        .bind(&lesson.title)
        .bind(lesson.version)
        .bind(&lesson.slides)
        .bind(lesson.slide_count)
        .bind(lesson.created_at)
        .bind(lesson.updated_at)
        .execute(&mut *tx)
        .await?;
        link_media(&mut tx, &lesson.id, uploads).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the lesson with `lesson` (whose `version` is the new one) if it is still at
    /// `expected_version`.
    pub async fn update_lesson(
        &self,
        lesson: &LessonRow,
        expected_version: i64,
        uploads: &[String],
    ) -> StoreResult<LessonUpdate> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "update lessons set title = $1, version = $2, slides = $3, slide_count = $4, \
             updated_at = $5 where id = $6 and version = $7",
        )
        .bind(&lesson.title)
        .bind(lesson.version)
        .bind(&lesson.slides)
        .bind(lesson.slide_count)
        .bind(lesson.updated_at)
        .bind(&lesson.id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            let exists: Option<(i64,)> =
                sqlx::query_as("select version from lessons where id = $1")
                    .bind(&lesson.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Ok(match exists {
                Some(_) => LessonUpdate::Stale,
                None => LessonUpdate::NotFound,
            });
        }
        sqlx::query("delete from lesson_media where lesson_id = $1")
            .bind(&lesson.id)
            .execute(&mut *tx)
            .await?;
        link_media(&mut tx, &lesson.id, uploads).await?;
        tx.commit().await?;
        Ok(LessonUpdate::Updated)
    }

    pub async fn find_lesson(&self, id: &str) -> StoreResult<Option<LessonRow>> {
        Ok(sqlx::query_as(&format!(
            "select {LESSON_COLUMNS} from lessons where id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// An owner's lessons, most recently edited first (every lesson when `owner_id` is `None`).
    pub async fn list_lessons(&self, owner_id: Option<&str>) -> StoreResult<Vec<LessonRow>> {
        let query = format!(
            "select {LESSON_COLUMNS} from lessons where $1 is null or owner_id = $1 \
             order by updated_at desc, id"
        );
        Ok(sqlx::query_as(&query)
            .bind(owner_id)
            .fetch_all(self.read_pool())
            .await?)
    }

    pub async fn delete_lesson(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query("delete from lesson_media where lesson_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("delete from lessons where id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// The title of a lesson that shows the upload, if any does.
    pub async fn lesson_showing_upload(&self, upload_id: &str) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "select l.title from lesson_media m join lessons l on l.id = m.lesson_id \
             where m.upload_id = $1 order by l.title limit 1",
        )
        .bind(upload_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(title,)| title))
    }

    /// The uploads with these ids that exist.
    pub async fn uploads_by_ids(&self, ids: &[String]) -> StoreResult<Vec<UploadRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "select {} from uploads where id in ({})",
            super::uploads::UPLOAD_COLUMNS,
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query_as(&sql);
        for id in ids {
            query = query.bind(id);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}

async fn link_media(
    tx: &mut AnyConnection,
    lesson_id: &str,
    uploads: &[String],
) -> Result<(), sqlx::Error> {
    if uploads.is_empty() {
        return Ok(());
    }
    let rows = (0..uploads.len())
        .map(|i| format!("($1, ${})", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "insert into lesson_media (lesson_id, upload_id) values {rows} on conflict do nothing"
    );
    let mut query = sqlx::query(&sql).bind(lesson_id);
    for upload in uploads {
        query = query.bind(upload);
    }
    query.execute(tx).await?;
    Ok(())
}
