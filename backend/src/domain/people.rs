//! People as boardcast knows them: who someone is (as a directory vouched for them) and what
//! they may do. The directory produces these and the store keeps them; neither needs the other.

/// A person the directory vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The login name, as the directory spells it.
    pub username: String,
    pub display_name: String,
    pub roles: Roles,
}

/// What a person may do in boardcast; someone with neither role may not log in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles {
    pub teacher: bool,
    pub admin: bool,
}

impl Roles {
    /// Role names as docs/api.md spells them in `/api/me`.
    pub fn names(self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.teacher {
            names.push("teacher");
        }
        if self.admin {
            names.push("admin");
        }
        names
    }

    /// Parses the comma-separated form stored in the database; unknown names are ignored.
    pub fn parse(text: &str) -> Self {
        let mut roles = Self::default();
        for name in text.split(',').map(str::trim) {
            match name {
                "teacher" => roles.teacher = true,
                "admin" => roles.admin = true,
                _ => {}
            }
        }
        roles
    }

    /// The comma-separated form stored in the database.
    pub fn to_stored(self) -> String {
        self.names().join(",")
    }

    pub fn is_empty(self) -> bool {
        !self.teacher && !self.admin
    }
}

/// Who asks for something a teacher owns (an upload, a lesson): its owner sees it, an admin
/// sees everyone's, anyone else is told it does not exist.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    pub user_id: &'a str,
    pub is_admin: bool,
}

impl Viewer<'_> {
    pub fn may_see(&self, owner_id: &str) -> bool {
        self.is_admin || owner_id == self.user_id
    }
}
