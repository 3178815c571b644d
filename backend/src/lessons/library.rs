//! The school's lessons as people and boards reach them, with the rules that hold whichever
//! way they are reached: a teacher sees and edits their own lessons and an admin every
//! lesson, while to anyone else a lesson does not exist; a board reads only the lesson open on
//! it, without the speaker notes; a save names the version it edited and a stale one changes
//! nothing; slides show only their owner's uploads (any upload when an admin saves).

use std::collections::HashMap;

use super::{media_ids, upload_ids, validate, InvalidLesson, LessonInput, Slide};
use crate::{
    domain::people::Viewer,
    store::{LessonRow, LessonUpdate, Store, StoreError, UploadRow},
};

/// The uploads a set of slides shows, by id (their media URLs are made from them).
pub type UploadsById = HashMap<String, UploadRow>;

/// Why a lesson could not be read or saved; each becomes one status code.
#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    /// 404: no such lesson, or not one this person may see.
    #[error("no such lesson")]
    NotFound,
    /// 403: a board asked for a lesson that is not open on it.
    #[error("a board may read only the lesson open on it")]
    NotOpenHere,
    /// 409: the lesson is at this version now, not the one edited.
    #[error("the lesson was changed meanwhile (now version {0}); reload it and edit again")]
    Stale(i64),
    /// 400: the lesson as sent breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// 500: a stored lesson whose slides cannot be read, or slides that cannot be written.
    #[error("{0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A lesson with its slides read.
#[derive(Debug)]
pub struct Lesson {
    pub row: LessonRow,
    pub slides: Vec<Slide>,
}

/// The lessons, over the store; cheap to clone.
#[derive(Clone)]
pub struct Lessons {
    store: Store,
}

impl Lessons {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The lessons this person may see, and the uploads their slides show.
    pub async fn list(
        &self,
        viewer: Viewer<'_>,
    ) -> Result<(Vec<Lesson>, UploadsById), LessonError> {
        let owner = (!viewer.is_admin).then_some(viewer.user_id);
        let lessons = self
            .store
            .list_lessons(owner)
            .await?
            .into_iter()
            .map(read)
            .collect::<Result<Vec<_>, _>>()?;
        let uploads = self
            .uploads_of(lessons.iter().flat_map(|lesson| &lesson.slides))
            .await?;
        Ok((lessons, uploads))
    }

    /// The lesson if this person may see it, and the uploads it shows.
    pub async fn visible(
        &self,
        viewer: Viewer<'_>,
        id: &str,
    ) -> Result<(Lesson, UploadsById), LessonError> {
        let lesson = read(self.visible_row(viewer, id).await?)?;
        let uploads = self.uploads_of(&lesson.slides).await?;
        Ok((lesson, uploads))
    }

    /// The lesson `id` if it is the one open on `board_id`, without its speaker notes.
    pub async fn open_on(
        &self,
        board_id: &str,
        id: &str,
    ) -> Result<(Lesson, UploadsById), LessonError> {
        let open = self.store.board_snapshot(board_id).await?.state.lesson_id;
        if open.as_deref() != Some(id) {
            return Err(LessonError::NotOpenHere);
        }
        let row = self
            .store
            .find_lesson(id)
            .await?
            .ok_or(LessonError::NotFound)?;
        let mut lesson = read(row)?;
        for slide in &mut lesson.slides {
            slide.notes = None;
        }
        let uploads = self.uploads_of(&lesson.slides).await?;
        Ok((lesson, uploads))
    }

    /// A new lesson of the person saving it, at `now` (milliseconds).
    pub async fn create(
        &self,
        owner: Viewer<'_>,
        input: LessonInput,
        now: i64,
    ) -> Result<(Lesson, UploadsById), LessonError> {
        let (title, slides, uploads) = self.checked(owner, owner.user_id, input).await?;
        let row = LessonRow {
            id: uuid::Uuid::new_v4().to_string(),
            owner_id: owner.user_id.to_string(),
            title,
            version: 1,
            slide_count: slides.len() as i64,
            slides: encode(&slides)?,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_lesson(&row, &media_ids(&slides)).await?;
        Ok((Lesson { row, slides }, uploads))
    }

    /// Saves `input` over version `expected` of the lesson; [`LessonError::Stale`] when the
    /// lesson moved on meanwhile, with nothing overwritten.
    pub async fn update(
        &self,
        viewer: Viewer<'_>,
        id: &str,
        expected: i64,
        input: LessonInput,
        now: i64,
    ) -> Result<(Lesson, UploadsById), LessonError> {
        let current = self.visible_row(viewer, id).await?;
        if current.version != expected {
            return Err(LessonError::Stale(current.version));
        }
        let (title, slides, uploads) = self.checked(viewer, &current.owner_id, input).await?;
        let row = LessonRow {
            title,
            version: expected + 1,
            slide_count: slides.len() as i64,
            slides: encode(&slides)?,
            updated_at: now.max(current.updated_at),
            ..current
        };
        match self
            .store
            .update_lesson(&row, expected, &media_ids(&slides))
            .await?
        {
            LessonUpdate::Updated => Ok((Lesson { row, slides }, uploads)),
            LessonUpdate::Stale => Err(LessonError::Stale(expected)),
            LessonUpdate::NotFound => Err(LessonError::NotFound),
        }
    }

    /// Deletes the lesson; with `expected`, only if it is still at that version.
    pub async fn delete(
        &self,
        viewer: Viewer<'_>,
        id: &str,
        expected: Option<i64>,
    ) -> Result<(), LessonError> {
        let current = self.visible_row(viewer, id).await?;
        if expected.is_some_and(|expected| expected != current.version) {
            return Err(LessonError::Stale(current.version));
        }
        self.store.delete_lesson(id).await?;
        Ok(())
    }

    /// The boards that show the lesson now, to tell them of an edit.
    pub async fn boards_showing(&self, id: &str) -> Result<Vec<String>, LessonError> {
        Ok(self.store.boards_showing_lesson(id).await?)
    }

    async fn visible_row(&self, viewer: Viewer<'_>, id: &str) -> Result<LessonRow, LessonError> {
        self.store
            .find_lesson(id)
            .await?
            .filter(|row| viewer.may_see(&row.owner_id))
            .ok_or(LessonError::NotFound)
    }

    /// Validates the input for a lesson of `owner_id`, saved by `saver`: its slides may show
    /// the owner's uploads, and any upload when an admin saves.
    async fn checked(
        &self,
        saver: Viewer<'_>,
        owner_id: &str,
        input: LessonInput,
    ) -> Result<(String, Vec<Slide>, UploadsById), LessonError> {
        let uploads = by_id(self.store.uploads_by_ids(&upload_ids(&input)).await?);
        let (title, slides) = validate(input, &uploads, |upload| {
            saver.is_admin || upload.owner_id == owner_id
        })
        .map_err(|InvalidLesson(message)| LessonError::Invalid(message))?;
        Ok((title, slides, uploads))
    }

    async fn uploads_of<'a>(
        &self,
        slides: impl IntoIterator<Item = &'a Slide>,
    ) -> Result<UploadsById, LessonError> {
        Ok(by_id(self.store.uploads_by_ids(&media_ids(slides)).await?))
    }
}

fn read(row: LessonRow) -> Result<Lesson, LessonError> {
    let slides = serde_json::from_str(&row.slides).map_err(|error| {
        LessonError::Corrupt(format!("lesson {} has unreadable slides: {error}", row.id))
    })?;
    Ok(Lesson { row, slides })
}

fn encode(slides: &[Slide]) -> Result<String, LessonError> {
    serde_json::to_string(slides).map_err(|error| LessonError::Corrupt(error.to_string()))
}

fn by_id(rows: Vec<UploadRow>) -> UploadsById {
    rows.into_iter().map(|row| (row.id.clone(), row)).collect()
}
