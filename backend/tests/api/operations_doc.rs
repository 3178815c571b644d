//! docs/operations.md explains every line the node logs at warn or error level: a message
//! added to the code without a word for the operator fails here.

use std::{fs, path::Path};

use crate::sources::rust_files;

#[test]
fn every_warn_and_error_line_is_explained_in_the_operations_doc() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = fs::read_to_string(root.join("../docs/operations.md")).unwrap();
    let mut messages = Vec::new();
    for dir in [root.join("src"), root.join("../sync/src")] {
        for file in rust_files(&dir) {
            messages.extend(logged_messages(&fs::read_to_string(&file).unwrap()));
        }
    }
    assert!(messages.len() > 40, "{messages:?}");
    let unexplained: Vec<_> = messages
        .iter()
        // A message with fields in it is explained by its fixed beginning.
        .map(|message| message.split('{').next().unwrap_or_default().trim())
        .filter(|fixed| !doc.contains(fixed))
        .collect();
    assert!(
        unexplained.is_empty(),
        "not in docs/operations.md: {unexplained:?}"
    );
}

/// The message (the last string literal) of every `tracing::warn!` and `tracing::error!`.
fn logged_messages(source: &str) -> Vec<String> {
    let mut messages = Vec::new();
    for level in ["tracing::warn!(", "tracing::error!("] {
        for (start, _) in source.match_indices(level) {
            let body = macro_body(&source[start + level.len()..]);
            if let Some(literal) = body.rsplit('"').nth(1) {
                messages.push(continued_lines_joined(literal));
            }
        }
    }
    messages
}

/// A string literal as Rust reads it: a backslash at a line's end drops the line break and
/// the next line's leading spaces.
fn continued_lines_joined(literal: &str) -> String {
    let mut parts = literal.split("\\\n");
    let first = parts.next().unwrap_or_default().to_string();
    parts.fold(first, |joined, part| joined + part.trim_start())
}

/// The text up to the parenthesis that closes the macro call.
fn macro_body(after_open: &str) -> &str {
    let mut depth = 1;
    for (index, c) in after_open.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &after_open[..index];
                }
            }
            _ => {}
        }
    }
    after_open
}
