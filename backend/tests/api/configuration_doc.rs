//! docs/configuration.md cannot drift from the code: it names exactly the keys the node
//! accepts, and each default it writes in `code` is the node's own default.

use std::collections::BTreeSet;

use boardcast::config::Settings;

/// Values for the keys the `[ldap]` table requires, so that it can be given at all.
const LDAP_REQUIRED: &str = "urls = [\"ldap://127.0.0.1:1\"]\nbind_dn = \"cn=x\"\n\
    bind_password = \"p\"\nuser_base = \"dc=x\"\nteacher_group = \"cn=t\"\nadmin_group = \"cn=a\"\n";

/// A documented key: its dotted name and its default as written (`None` for unset, required
/// or computed ones).
struct Documented {
    key: String,
    default: Option<String>,
}

#[test]
fn the_configuration_doc_names_every_key_the_node_accepts_and_no_other() {
    let documented: BTreeSet<String> = documented().into_iter().map(|d| d.key).collect();
    let mut accepted = BTreeSet::new();
    for key in accepted_keys("") {
        match accepted_keys(&key) {
            sub_keys if sub_keys.is_empty() => accepted.insert(key),
            sub_keys => {
                accepted.extend(sub_keys.into_iter().map(|sub| format!("{key}.{sub}")));
                true
            }
        };
    }
    assert!(accepted.len() > 40, "{accepted:?}");
    let undocumented: Vec<_> = accepted.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&accepted).collect();
    assert!(
        undocumented.is_empty(),
        "keys missing from the doc: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "keys the node does not accept: {unknown:?}"
    );
}

#[test]
fn every_default_the_doc_writes_is_the_nodes_default() {
    let mut sections: Vec<(String, String)> = vec![(String::new(), String::new())];
    for Documented { key, default } in documented() {
        let Some(default) = default else { continue };
        let (section, name) = key.split_once('.').unwrap_or(("", &key));
        if !sections.iter().any(|(known, _)| known == section) {
            sections.push((section.to_string(), String::new()));
        }
        let lines = sections
            .iter_mut()
            .find(|(known, _)| known == section)
            .unwrap();
        lines.1.push_str(&format!("{name} = {default}\n"));
    }
    let mut file = String::new();
    for (section, lines) in &sections {
        if !section.is_empty() {
            file.push_str(&format!("[{section}]\n"));
        }
        file.push_str(lines);
        if section == "ldap" {
            file.push_str(LDAP_REQUIRED);
        }
    }
    let as_documented = load(&file).unwrap_or_else(|e| panic!("{e}\n{file}"));
    let built_in = load(&format!("[ldap]\n{LDAP_REQUIRED}")).unwrap();
    assert_eq!(
        format!("{as_documented:?}"),
        format!("{built_in:?}"),
        "{file}"
    );
}

/// The keys of the doc's tables: rows whose first cell is a key in backticks.
fn documented() -> Vec<Documented> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .unwrap();
    doc.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let key = cells.first()?.strip_prefix("| `")?.strip_suffix('`')?;
            let default = cells.get(1)?;
            let literal = default.strip_prefix('`').and_then(|d| d.strip_suffix('`'));
            Some(Documented {
                key: key.to_string(),
                default: literal.map(str::to_string),
            })
        })
        .collect()
}

/// The keys the node accepts at the top level (`table` empty) or in `[table]`, as its own
/// refusal of an unknown key lists them; none when `table` is not a table.
fn accepted_keys(table: &str) -> BTreeSet<String> {
    let probe = if table.is_empty() {
        "zz_probe = 1\n".to_string()
    } else {
        format!("[{table}]\nzz_probe = 1\n")
    };
    let error = load(&probe).unwrap_err();
    let Some(expected) = error.split("expected").nth(1) else {
        return BTreeSet::new();
    };
    if !error.contains("unknown field") {
        return BTreeSet::new();
    }
    expected
        .split('`')
        .map(str::trim)
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .filter(|name| *name != "zz_probe")
        .map(str::to_string)
        .collect()
}

fn load(toml: &str) -> Result<Settings, String> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), toml).unwrap();
    Settings::from_sources(Some(file.path()), Vec::new()).map_err(|e| e.to_string())
}
