//! Ids on the wire: every id boardcast makes is a UUID, stored and sent lowercase with
//! hyphens. Clients may send them in any case (or another UUID spelling); each is read into
//! the one stored form at the edge, so a lookup never misses on spelling and what the node
//! echoes is always the stored form.

/// The stored form of `text`, or `None` when it is no UUID (and so names nothing).
pub fn canonical(text: &str) -> Option<String> {
    uuid::Uuid::try_parse(text)
        .ok()
        .map(|id| id.hyphenated().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_spelling_of_a_uuid_reads_as_its_stored_form() {
        let stored = "6f1c1a9e-9a43-4c59-9f0c-0123456789ab";
        for sent in [
            stored,
            "6F1C1A9E-9A43-4C59-9F0C-0123456789AB",
            "6f1c1a9e9a434c599f0c0123456789ab",
            "{6f1c1a9e-9a43-4c59-9f0c-0123456789AB}",
        ] {
            assert_eq!(canonical(sent).as_deref(), Some(stored), "{sent}");
        }
    }

    #[test]
    fn what_is_no_uuid_names_nothing() {
        for sent in [
            "",
            "room-12",
            "6f1c1a9e-9a43-4c59-9f0c-0123456789a\0",
            "../etc",
        ] {
            assert_eq!(canonical(sent), None, "{sent:?}");
        }
    }
}
