//! Who is in the teacher and admin groups. Asking the directory about both groups on every
//! login doubled its work per login, so the member lists are read whole and reused for
//! `ldap.role_cache`: a membership change counts for new logins within that window, and the
//! directory sees one search and one bind per login, like any LDAP-backed application.
//!
//! One refresh at a time: logins that find the lists too old wait for the refresh already
//! running instead of each starting their own, so an 8:30 rush costs the directory two
//! searches per window, not two per login.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use ldap3::{Scope, SearchEntry, SearchResult};

use super::{connections::Connections, NO_SUCH_OBJECT, SUCCESS};
use crate::directory::{DirectoryError, Roles};

/// Attributes that list a group's members: by DN (`groupOfNames`, `groupOfUniqueNames`) or
/// by username (`posixGroup`).
const MEMBER_BY_DN: [&str; 2] = ["member", "uniqueMember"];
const MEMBER_BY_NAME: &str = "memberUid";

/// The member lists of both role groups, with when their fetch began.
struct Groups {
    fetched_at: Instant,
    teacher: Members,
    admin: Members,
}

/// One group's members: normalized DNs and exact usernames.
#[derive(Default, Debug)]
struct Members {
    dns: HashSet<String>,
    usernames: HashSet<String>,
}

impl Members {
    fn from_entry(entry: &SearchEntry) -> Self {
        let mut members = Self::default();
        for (attribute, values) in &entry.attrs {
            if MEMBER_BY_DN
                .iter()
                .any(|name| name.eq_ignore_ascii_case(attribute))
            {
                members.dns.extend(values.iter().map(|dn| normalize_dn(dn)));
            } else if attribute.eq_ignore_ascii_case(MEMBER_BY_NAME) {
                members.usernames.extend(values.iter().cloned());
            }
        }
        members
    }

    fn lists(&self, normalized_dn: &str, username: &str) -> bool {
        self.dns.contains(normalized_dn) || self.usernames.contains(username)
    }
}

/// Role group member lists shared by every login of a node.
pub(super) struct RoleCache {
    teacher_group: String,
    admin_group: String,
    max_age: Duration,
    current: Mutex<Option<Arc<Groups>>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl RoleCache {
    pub(super) fn new(teacher_group: &str, admin_group: &str, max_age: Duration) -> Self {
        Self {
            teacher_group: teacher_group.to_string(),
            admin_group: admin_group.to_string(),
            max_age,
            current: Mutex::default(),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The roles of the entry `dn` (username `username`), from member lists fetched no
    /// earlier than `max_age` before `asked_at`.
    pub(super) async fn roles_of(
        &self,
        connections: &Connections,
        dn: &str,
        username: &str,
        asked_at: Instant,
        deadline: Instant,
    ) -> Result<Roles, DirectoryError> {
        let groups = match self.fresh(asked_at) {
            Some(groups) => groups,
            None => self.refresh(connections, asked_at, deadline).await?,
        };
        let dn = normalize_dn(dn);
        Ok(Roles {
            teacher: groups.teacher.lists(&dn, username),
            admin: groups.admin.lists(&dn, username),
        })
    }

    fn fresh(&self, asked_at: Instant) -> Option<Arc<Groups>> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current
            .as_ref()
            .filter(|groups| groups.fetched_at + self.max_age >= asked_at)
            .cloned()
    }

    /// Fetches both groups unless a refresh that finished while this one waited is fresh
    /// enough already.
    async fn refresh(
        &self,
        connections: &Connections,
        asked_at: Instant,
        deadline: Instant,
    ) -> Result<Arc<Groups>, DirectoryError> {
        let _turn = self.refreshing.lock().await;
        if let Some(groups) = self.fresh(asked_at) {
            return Ok(groups);
        }
        let fetched_at = Instant::now();
        let (teacher, admin) = tokio::try_join!(
            members_of(connections, &self.teacher_group, deadline),
            members_of(connections, &self.admin_group, deadline),
        )?;
        tracing::debug!(
            teachers = teacher.dns.len() + teacher.usernames.len(),
            admins = admin.dns.len() + admin.usernames.len(),
            "role groups read from the directory"
        );
        let groups = Arc::new(Groups {
            fetched_at,
            teacher,
            admin,
        });
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&groups));
        Ok(groups)
    }
}

/// Reads a group entry's member attributes; a missing group has no members.
async fn members_of(
    connections: &Connections,
    group: &str,
    deadline: Instant,
) -> Result<Members, DirectoryError> {
    let attributes = [MEMBER_BY_DN[0], MEMBER_BY_DN[1], MEMBER_BY_NAME];
    let SearchResult(entries, result) = connections
        .search(
            group,
            Scope::Base,
            "(objectClass=*)",
            &attributes,
            0,
            deadline,
        )
        .await?;
    match result.rc {
        SUCCESS => Ok(entries
            .into_iter()
            .map(SearchEntry::construct)
            .next()
            .map(|entry| Members::from_entry(&entry))
            .unwrap_or_default()),
        NO_SUCH_OBJECT => {
            tracing::warn!(%group, "role group does not exist; nobody gets its role");
            Ok(Members::default())
        }
        _ => Err(DirectoryError::Other(format!(
            "group search failed: {result}"
        ))),
    }
}

/// A DN in one canonical spelling, so the DN a search returns and the same DN as an admin
/// typed it into a group compare equal: attribute types and values lowercased (the naming
/// attributes of people — uid, cn, ou, dc, mail — all match case-insensitively), spaces
/// around separators dropped, escapes (`\,` or `\2C`) decoded and re-encoded one way, and
/// the parts of a multi-valued RDN sorted.
pub(super) fn normalize_dn(dn: &str) -> String {
    split_unescaped(dn, ',')
        .iter()
        .map(|rdn| {
            let mut parts: Vec<String> = split_unescaped(rdn, '+')
                .iter()
                .map(|ava| match ava.split_once('=') {
                    Some((kind, value)) => {
                        format!("{}={}", kind.trim().to_lowercase(), canonical_value(value))
                    }
                    None => canonical_value(ava),
                })
                .collect();
            parts.sort();
            parts.join("+")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Splits at `separator` where it is not escaped by a backslash.
fn split_unescaped(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == separator => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// An attribute value decoded (RFC 4514 escapes), trimmed, lowercased, and re-encoded with
/// every character that could be read as syntax written as `\XX`.
fn canonical_value(raw: &str) -> String {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut chars = raw.trim_start().bytes().peekable();
    let mut trailing_escaped_space = 0;
    while let Some(b) = chars.next() {
        if b != b'\\' {
            bytes.push(b);
            trailing_escaped_space = 0;
            continue;
        }
        let hex: Vec<u8> = chars.clone().take(2).collect();
        match (hex.first(), hex.get(1)) {
            (Some(&h), Some(&l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let decoded = hex_value(h) * 16 + hex_value(l);
                bytes.push(decoded);
                chars.next();
                chars.next();
                trailing_escaped_space = if decoded == b' ' { bytes.len() } else { 0 };
            }
            (Some(&next), _) => {
                bytes.push(next);
                chars.next();
                trailing_escaped_space = if next == b' ' { bytes.len() } else { 0 };
            }
            (None, _) => {}
        }
    }
    // Unescaped trailing spaces are insignificant; an escaped one is part of the value.
    while bytes.last() == Some(&b' ') && bytes.len() != trailing_escaped_space {
        bytes.pop();
    }
    let value = String::from_utf8_lossy(&bytes).to_lowercase();
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(
            c,
            ',' | '+' | '=' | '"' | '\\' | '<' | '>' | ';' | '#' | ' '
        ) {
            out.push_str(&format!("\\{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_spaces_around_separators_do_not_matter() {
        assert_eq!(
            normalize_dn("UID=JDevries, OU=People,dc=School , DC=example"),
            normalize_dn("uid=jdevries,ou=people,dc=school,dc=example")
        );
    }

    #[test]
    fn hex_and_character_escapes_are_the_same_value() {
        assert_eq!(
            normalize_dn("cn=de Vries\\, Jan,ou=people"),
            normalize_dn("cn=de Vries\\2C Jan,ou=people")
        );
        assert_ne!(
            normalize_dn("cn=de Vries\\, Jan,ou=people"),
            normalize_dn("cn=de Vries,cn=Jan,ou=people")
        );
    }

    #[test]
    fn the_parts_of_a_multi_valued_rdn_may_come_in_any_order() {
        assert_eq!(
            normalize_dn("cn=Jan+uid=jdevries,ou=people"),
            normalize_dn("uid=jdevries + cn=Jan,ou=people")
        );
    }

    #[test]
    fn an_escaped_trailing_space_is_part_of_the_value() {
        assert_ne!(normalize_dn("cn=jan\\ ,ou=x"), normalize_dn("cn=jan,ou=x"));
        assert_eq!(normalize_dn("cn=jan ,ou=x"), normalize_dn("cn=jan,ou=x"));
    }

    #[test]
    fn utf8_values_compare_case_insensitively() {
        assert_eq!(
            normalize_dn("cn=Jânneke Öztürk,ou=people"),
            normalize_dn("cn=JÂNNEKE ÖZTÜRK,ou=people")
        );
        assert_eq!(
            normalize_dn("cn=J\\c3\\a2nneke,ou=people"),
            normalize_dn("cn=Jânneke,ou=people")
        );
    }

    #[test]
    fn different_people_stay_different() {
        assert_ne!(
            normalize_dn("uid=jdevries,ou=people,dc=school"),
            normalize_dn("uid=jdevries2,ou=people,dc=school")
        );
    }
}
