//! Lessons and their slides: what a teacher may save, checked in one place before anything is
//! written. Slides that show media refer to the teacher's uploads by id; whether an upload
//! fits a slide (an image for an image slide, ...) is decided here, from the upload's
//! content type.

mod library;

pub use library::{Lesson, LessonError, Lessons, UploadsById};

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::{
    store::UploadRow,
    text::{is_clean_line, is_clean_lines},
    wire_id,
};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_SLIDES: usize = 500;
pub const MAX_TEXT_CHARS: usize = 10_000;
pub const MAX_URL_BYTES: usize = 2048;
pub const MAX_NOTES_CHARS: usize = 10_000;

/// What a slide shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlideKind {
    Image,
    Pdf,
    Video,
    Text,
    Link,
}

/// A slide as stored and as clients see it (clients also get `media_url`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slide {
    pub id: String,
    pub kind: SlideKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The teacher's speaker notes: shown on the controller, never sent to a board.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// A slide as a client sends it: the id may be left out (the node assigns one), and a
/// `media_url` from an earlier `GET` is accepted and ignored, so a lesson can be sent back
/// as it was read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlideInput {
    pub id: Option<String>,
    pub kind: SlideKind,
    pub upload_id: Option<String>,
    pub page: Option<u32>,
    pub text: Option<String>,
    pub url: Option<String>,
    pub notes: Option<String>,
    #[serde(rename = "media_url")]
    pub _media_url: Option<String>,
}

/// A lesson as a client sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonInput {
    pub title: String,
    #[serde(default)]
    pub slides: Vec<SlideInput>,
    /// What the node itself decides is ignored on input (the version edited goes in
    /// `If-Match`), and accepted so a lesson can be sent back as it was read.
    #[serde(default, rename = "id")]
    pub _id: Option<String>,
    #[serde(default, rename = "version")]
    pub _version: Option<i64>,
    #[serde(default, rename = "owner_id")]
    pub _owner_id: Option<String>,
    #[serde(default, rename = "created_at")]
    pub _created_at: Option<String>,
    #[serde(default, rename = "updated_at")]
    pub _updated_at: Option<String>,
}

/// Why a lesson cannot be saved; the message names the slide (counting from 1) and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidLesson(pub String);

/// The checked slides of `input`, with the uploads they show. `uploads` are the rows of the
/// upload ids the slides name (missing ones are unknown); `may_use` says whether the saver
/// may show an upload (their own, or any for an admin).
pub fn validate(
    input: LessonInput,
    uploads: &HashMap<String, UploadRow>,
    may_use: impl Fn(&UploadRow) -> bool,
) -> Result<(String, Vec<Slide>), InvalidLesson> {
    let title = input.title.trim().to_string();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(InvalidLesson(format!(
            "title: 1 to {MAX_TITLE_CHARS} characters"
        )));
    }
    if !is_clean_line(&title) {
        return Err(InvalidLesson("title: no control characters".into()));
    }
    if input.slides.len() > MAX_SLIDES {
        return Err(InvalidLesson(format!(
            "slides: at most {MAX_SLIDES} per lesson"
        )));
    }
    let mut ids = HashSet::new();
    let mut slides = Vec::with_capacity(input.slides.len());
    for (index, slide) in input.slides.into_iter().enumerate() {
        let invalid = |what: &str| InvalidLesson(format!("slide {}: {what}", index + 1));
        let slide = check_slide(slide, uploads, &may_use).map_err(|e| invalid(&e))?;
        if !ids.insert(slide.id.clone()) {
            return Err(invalid("its id is used twice"));
        }
        slides.push(slide);
    }
    Ok((title, slides))
}

/// The upload ids named by the input's slides, to look up before [`validate`].
/// Only UUIDs can name an upload, so nothing else is looked up.
pub fn upload_ids(input: &LessonInput) -> Vec<String> {
    let canonical: Vec<String> = input
        .slides
        .iter()
        .filter_map(|s| wire_id::canonical(s.upload_id.as_ref()?))
        .collect();
    distinct_ids(canonical.iter())
}

/// The uploads saved slides show, each once: what `lesson_media` records.
pub fn media_ids<'a>(slides: impl IntoIterator<Item = &'a Slide>) -> Vec<String> {
    distinct_ids(slides.into_iter().filter_map(|s| s.upload_id.as_ref()))
}

fn distinct_ids<'a>(ids: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut ids: Vec<String> = ids.cloned().collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn check_slide(
    mut input: SlideInput,
    uploads: &HashMap<String, UploadRow>,
    may_use: impl Fn(&UploadRow) -> bool,
) -> Result<Slide, String> {
    input.upload_id = input
        .upload_id
        .map(|id| wire_id::canonical(&id).unwrap_or(id));
    let id = match input.id {
        Some(id) if id.is_empty() || id.len() > 64 || !is_clean_line(&id) => {
            return Err("id: 1 to 64 characters, no control characters".into());
        }
        Some(id) => id,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let shows_media = matches!(
        input.kind,
        SlideKind::Image | SlideKind::Pdf | SlideKind::Video
    );
    let extra = [
        ("upload_id", input.upload_id.is_some() && !shows_media),
        ("page", input.page.is_some() && input.kind != SlideKind::Pdf),
        (
            "text",
            input.text.is_some() && input.kind != SlideKind::Text,
        ),
        ("url", input.url.is_some() && input.kind != SlideKind::Link),
    ];
    if let Some((field, _)) = extra.iter().find(|(_, extra)| *extra) {
        return Err(
            format!("`{field}` does not belong to a {:?} slide", input.kind).to_lowercase(),
        );
    }
    if shows_media {
        let upload_id = input.upload_id.as_deref().ok_or("upload_id is required")?;
        let upload = uploads
            .get(upload_id)
            .filter(|upload| may_use(upload))
            .ok_or("no such upload, or it is not yours")?;
        let fits = match input.kind {
            SlideKind::Image => upload.content_type.starts_with("image/"),
            SlideKind::Pdf => upload.content_type == "application/pdf",
            _ => {
                upload.content_type.starts_with("video/")
                    || upload.content_type.starts_with("audio/")
            }
        };
        if !fits {
            return Err(format!(
                "the upload is {}, which this slide cannot show",
                upload.content_type
            ));
        }
    }
    match input.kind {
        SlideKind::Pdf if input.page == Some(0) => return Err("page: counts from 1".into()),
        SlideKind::Text => {
            let text = input.text.as_deref().unwrap_or_default();
            if text.trim().is_empty() || text.chars().count() > MAX_TEXT_CHARS {
                return Err(format!("text: 1 to {MAX_TEXT_CHARS} characters"));
            }
            if !is_clean_lines(text) {
                return Err("text: no control characters but line breaks and tabs".into());
            }
        }
        SlideKind::Link => {
            let url = input.url.as_deref().unwrap_or_default();
            let web = url.starts_with("https://") || url.starts_with("http://");
            let clean = is_clean_line(url) && !url.chars().any(char::is_whitespace);
            if !web || url.len() > MAX_URL_BYTES || !clean {
                return Err("url: an http(s) address of at most 2048 bytes".into());
            }
        }
        _ => {}
    }
    let notes = input.notes.filter(|notes| !notes.trim().is_empty());
    if notes
        .as_ref()
        .is_some_and(|notes| notes.chars().count() > MAX_NOTES_CHARS)
    {
        return Err(format!("notes: at most {MAX_NOTES_CHARS} characters"));
    }
    if notes.as_deref().is_some_and(|notes| !is_clean_lines(notes)) {
        return Err("notes: no control characters but line breaks and tabs".into());
    }
    Ok(Slide {
        id,
        kind: input.kind,
        page: match input.kind {
            SlideKind::Pdf => Some(input.page.unwrap_or(1)),
            _ => None,
        },
        upload_id: input.upload_id,
        text: input.text,
        url: input.url,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(slides: serde_json::Value) -> LessonInput {
        serde_json::from_value(serde_json::json!({"title": " Maps ", "slides": slides})).unwrap()
    }

    #[test]
    fn ids_are_assigned_pdf_pages_default_to_one_and_titles_are_trimmed() {
        let uploads = HashMap::from([(
            "u1".to_string(),
            UploadRow {
                id: "u1".into(),
                owner_id: "ann".into(),
                sha256: "ab".into(),
                size: 1,
                content_type: "application/pdf".into(),
                filename: "atlas.pdf".into(),
                stored_by: "node-a".into(),
                idempotency_key: None,
                created_at: 0,
            },
        )]);
        let lesson = input(serde_json::json!([{"kind": "pdf", "upload_id": "u1"}]));
        let (title, slides) = validate(lesson, &uploads, |u| u.owner_id == "ann").unwrap();
        assert_eq!(title, "Maps");
        assert_eq!(slides[0].page, Some(1));
        assert!(!slides[0].id.is_empty());

        let lesson = input(serde_json::json!([{"kind": "pdf", "upload_id": "u1"}]));
        let error = validate(lesson, &uploads, |u| u.owner_id == "bob").unwrap_err();
        assert_eq!(error.0, "slide 1: no such upload, or it is not yours");
    }

    #[test]
    fn errors_name_the_slide_and_the_field() {
        let lesson = input(serde_json::json!([
            {"kind": "text", "text": "fine"},
            {"kind": "link", "url": "https://example.org", "page": 3},
        ]));
        let error = validate(lesson, &HashMap::new(), |_| true).unwrap_err();
        assert_eq!(error.0, "slide 2: `page` does not belong to a link slide");
    }
}
