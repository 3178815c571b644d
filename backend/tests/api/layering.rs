//! Imports point down: the domain rules import nothing but themselves, the store nothing above
//! it, and the small leaf modules they share nothing at all. A rule then has one home, and the
//! store can be read, tested and changed without the HTTP, realtime or directory layers.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

use crate::sources::rust_files;

/// Modules that import nothing from the crate, so any layer may use them.
const LEAVES: &[&str] = &["clock", "text", "wire_id", "wire_time"];

#[test]
fn the_domain_imports_only_itself_and_the_leaves() {
    assert_imports_only("domain", &["domain"]);
}

#[test]
fn the_store_imports_nothing_above_it() {
    assert_imports_only("store", &["store", "domain"]);
}

#[test]
fn the_leaves_import_nothing_from_the_crate() {
    for leaf in LEAVES {
        let file = source_root().join(format!("{leaf}.rs"));
        let mut found = crate_modules_named_in(&fs::read_to_string(&file).unwrap());
        found.remove(*leaf);
        assert!(found.is_empty(), "{} imports {found:?}", file.display());
    }
}

#[test]
fn grouped_and_nested_imports_are_seen() {
    let found = crate_modules_named_in(
        "use crate::{\n    realtime::hub::Hub,\n    store::{Store, StoreResult},\n};\n\
         #[serde(with = \"crate::wire_time::optional\")]\nfn f() { crate::http::serve(); }",
    );
    assert_eq!(
        found,
        BTreeSet::from([
            "http".into(),
            "realtime".into(),
            "store".into(),
            "wire_time".into()
        ])
    );
}

fn assert_imports_only(module: &str, allowed: &[&str]) {
    let files = rust_files(&source_root().join(module));
    assert!(!files.is_empty(), "no sources under {module}/");
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for imported in crate_modules_named_in(&text) {
            assert!(
                allowed.contains(&imported.as_str()) || LEAVES.contains(&imported.as_str()),
                "{} imports crate::{imported}, a module above `{module}`",
                file.display()
            );
        }
        // `super::` from the module's own root would reach the crate root unseen.
        if file.ends_with("mod.rs") && file.parent().unwrap().ends_with(module) {
            assert!(
                !text.contains("super::"),
                "{} reaches above itself with super::",
                file.display()
            );
        }
    }
}

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The first path segment after every `crate::` in `text`, including each member of a
/// `crate::{a::..., b::...}` group.
fn crate_modules_named_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            found.extend(group_members(group));
        } else {
            found.insert(identifier(rest));
        }
    }
    found.remove("");
    found
}

/// The top-level names of a `{...}` group (the text after its `{`).
fn group_members(group: &str) -> Vec<String> {
    let mut members = Vec::new();
    let mut depth = 0;
    let mut starts_member = true;
    for (index, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => starts_member = true,
            c if starts_member && (c.is_alphanumeric() || c == '_') => {
                members.push(identifier(&group[index..]));
                starts_member = false;
            }
            _ => {}
        }
    }
    members
}

fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}
