//! Which web pages may call this node with the teacher's session cookie (CORS with
//! credentials, and the session endpoints' `Origin` check): the origins of
//! `web.allowed_origins` (a CDN), and every node of the cluster, this one included. Each node
//! may serve the browser app, and an app served by one node calls the others when it fails
//! over; the nodes are learned from the registry with every heartbeat.

use std::sync::Arc;

use crate::{config::Settings, media::Media};

#[derive(Clone)]
pub struct TrustedOrigins {
    configured: Arc<[String]>,
    own: String,
    media: Media,
}

impl TrustedOrigins {
    pub fn new(settings: &Settings, media: Media) -> Self {
        Self {
            configured: settings
                .web
                .allowed_origins
                .iter()
                .map(|origin| origin.trim_end_matches('/').to_string())
                .collect(),
            own: origin_of(&settings.public_url).to_string(),
            media,
        }
    }

    pub fn contains(&self, origin: &str) -> bool {
        origin == self.own
            || self.configured.iter().any(|allowed| allowed == origin)
            || self.media.any_peer_url(|url| origin_of(url) == origin)
    }
}

/// The origin (`scheme://host[:port]`) of a URL: what a browser sends in `Origin`.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    match url[after_scheme..].find('/') {
        Some(path) => &url[..after_scheme + path],
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_is_scheme_host_and_port() {
        assert_eq!(
            origin_of("https://api1.school.example/"),
            "https://api1.school.example"
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8081/base/x"),
            "http://127.0.0.1:8081"
        );
        assert_eq!(origin_of("http://127.0.0.1:8081"), "http://127.0.0.1:8081");
    }
}
