//! Who is connected to this node, and closing them by what they said hello with: the sockets
//! of a pairing, a login or an access token when it ends, and all of them when the node
//! stops. Also the counts the node's presence and metrics report.

use super::{Credential, Hub, LocalPresence, Peer, Role};

impl Hub {
    /// Closes the controller sockets steering through `pairing_id`.
    pub fn close_pairing(&self, pairing_id: &str, code: u16, reason: &'static str) {
        self.close_where(
            |peer| peer.pairing_id.as_deref() == Some(pairing_id),
            code,
            reason,
        );
    }

    /// Closes the controller sockets opened with a login of `family_id`.
    pub fn close_login(&self, family_id: &str, code: u16, reason: &'static str) {
        self.close_credentials(|credential| credential.family_id == family_id, code, reason);
    }

    /// Closes the controller sockets opened with the access token of `token_digest`.
    pub fn close_token(&self, token_digest: &str, code: u16, reason: &'static str) {
        self.close_credentials(
            |credential| credential.token_digest == token_digest,
            code,
            reason,
        );
    }

    fn close_credentials(
        &self,
        matches: impl Fn(&Credential) -> bool,
        code: u16,
        reason: &'static str,
    ) {
        self.close_where(
            |peer| peer.credential.as_ref().is_some_and(&matches),
            code,
            reason,
        );
    }

    /// The logins of the controller sockets here.
    pub fn logins(&self) -> Vec<String> {
        self.distinct(|peer| Some(peer.credential.as_ref()?.family_id.clone()))
    }

    /// The digests of the access tokens the controller sockets here said hello with.
    pub fn tokens(&self) -> Vec<String> {
        self.distinct(|peer| Some(peer.credential.as_ref()?.token_digest.clone()))
    }

    /// Closes every socket (the node is stopping).
    pub fn close_all(&self, code: u16, reason: &'static str) {
        self.close_where(|_| true, code, reason);
    }

    fn close_where(&self, matches: impl Fn(&Peer) -> bool, code: u16, reason: &'static str) {
        for room in self.rooms().values() {
            for peer in room.peers.iter().filter(|peer| matches(peer)) {
                peer.close(code, reason);
            }
        }
    }

    /// The distinct values of `key` over the sockets here, sorted.
    fn distinct(&self, key: impl Fn(&Peer) -> Option<String>) -> Vec<String> {
        let rooms = self.rooms();
        let mut values: Vec<String> = rooms
            .values()
            .flat_map(|room| room.peers.iter().filter_map(|peer| key(peer)))
            .collect();
        values.sort_unstable();
        values.dedup();
        values
    }

    /// The boards with sockets here and the highest offset each was handed.
    pub fn boards(&self) -> Vec<(String, i64)> {
        self.rooms()
            .iter()
            .map(|(board, room)| (board.clone(), room.delivered))
            .collect()
    }

    /// The pairings of the controller sockets here.
    pub fn pairings(&self) -> Vec<String> {
        self.distinct(|peer| peer.pairing_id.clone())
    }

    /// How many sockets of each role this node has for `board_id`.
    pub fn presence(&self, board_id: &str) -> LocalPresence {
        self.rooms()
            .get(board_id)
            .map(|room| LocalPresence {
                boards: room.peers.iter().filter(|p| p.role == Role::Board).count(),
                controllers: room
                    .peers
                    .iter()
                    .filter(|p| p.role == Role::Controller)
                    .count(),
            })
            .unwrap_or_default()
    }

    /// The number of open sockets (for `/metrics`).
    pub fn sockets(&self) -> usize {
        self.rooms().values().map(|room| room.peers.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn closing_a_pairing_reaches_only_its_controllers() {
        let hub = Hub::start();
        let (board, _) = hub.join("b", Role::Board, None, None);
        let credential = |family: &str, token: &str| {
            Some(Credential {
                family_id: family.into(),
                token_digest: token.into(),
            })
        };
        let (mine, _) = hub.join(
            "b",
            Role::Controller,
            Some("p1".into()),
            credential("f1", "t1"),
        );
        let (other, _) = hub.join(
            "b",
            Role::Controller,
            Some("p2".into()),
            credential("f2", "t2"),
        );
        let (third, _) = hub.join(
            "b",
            Role::Controller,
            Some("p2".into()),
            credential("f2", "t3"),
        );
        hub.close_pairing("p1", 4003, "pairing revoked");
        assert_eq!(mine.peer().take_close(), Some((4003, "pairing revoked")));
        assert_eq!(other.peer().take_close(), None);
        assert_eq!(board.peer().take_close(), None);
        assert_eq!(hub.pairings(), vec!["p1".to_string(), "p2".to_string()]);
        assert_eq!(hub.logins(), vec!["f1".to_string(), "f2".to_string()]);
        assert_eq!(hub.tokens(), ["t1", "t2", "t3"].map(String::from).to_vec());
        hub.close_token("t3", 4001, "token revoked");
        assert_eq!(third.peer().take_close(), Some((4001, "token revoked")));
        assert_eq!(other.peer().take_close(), None);
        hub.close_login("f2", 4001, "login ended");
        assert_eq!(other.peer().take_close(), Some((4001, "login ended")));
        assert_eq!(mine.peer().take_close(), None);
    }
}
