//! Text people type and boardcast stores: lesson titles, slide text and notes, board names
//! and labels. One rule for all of them, so both database engines keep exactly what the
//! teacher sees: no NUL (PostgreSQL cannot store it, SQLite silently would) and no other
//! control character, except line breaks and tabs where text may span lines.

/// Whether `text` may be stored as one line (a title, a name, an id).
pub fn is_clean_line(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// Whether `text` may be stored as several lines (slide text, speaker notes).
pub fn is_clean_lines(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_hold_no_control_character_and_text_only_breaks_and_tabs() {
        assert!(is_clean_line("Fotosynthese — les 3"));
        assert!(is_clean_lines("Stap 1\n\tStap 2\r\n"));
        for bad in [
            "a\0b",
            "bell\u{7}",
            "esc\u{1b}[31m",
            "c1\u{85}",
            "del\u{7f}",
        ] {
            assert!(!is_clean_line(bad), "{bad:?}");
            assert!(!is_clean_lines(bad), "{bad:?}");
        }
        assert!(!is_clean_line("two\nlines"));
    }
}
