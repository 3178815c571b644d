//! A database URL that names several hosts, as pg_auto_failover prints it
//! (`postgres://u:p@db1:5432,db2:5432/boardcast?target_session_attrs=read-write`), taken apart
//! into one URL per host: sqlx connects to one host only, so the node tries each itself (see
//! `primary`).

/// The single-host URLs a database URL names, in order: `postgres://u:p@h1:1,h2:2/db?q`
/// gives `postgres://u:p@h1:1/db?q` and `postgres://u:p@h2:2/db?q`. `target_session_attrs`
/// is dropped: the node itself only ever uses the read-write host.
pub fn split_hosts(url: &str) -> Vec<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return vec![url.to_string()];
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    let tail = without_parameter(tail, "target_session_attrs");
    hosts
        .split(',')
        .map(|host| format!("{scheme}://{userinfo}{host}{tail}"))
        .collect()
}

/// `tail` (path and query) without the query parameter `name`.
fn without_parameter(tail: &str, name: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| pair.split('=').next() != Some(name))
        .collect();
    if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// `host:port` of a single-host URL, without credentials.
pub fn host_label(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_host_url_names_each_host_with_the_same_credentials_and_options() {
        let hosts = split_hosts(
            "postgres://boardcast:p%40ss@db1:5432,db2:5433/boardcast?target_session_attrs=read-write&sslmode=verify-full",
        );
        assert_eq!(
            hosts,
            [
                "postgres://boardcast:p%40ss@db1:5432/boardcast?sslmode=verify-full",
                "postgres://boardcast:p%40ss@db2:5433/boardcast?sslmode=verify-full",
            ]
        );
        assert_eq!(host_label(&hosts[1]), "db2:5433");
    }

    #[test]
    fn a_single_host_url_is_kept_as_it_is() {
        let url = "postgresql://u@localhost/db";
        assert_eq!(split_hosts(url), [url]);
        assert_eq!(
            split_hosts("postgres://h1,h2?target_session_attrs=read-write"),
            ["postgres://h1", "postgres://h2"]
        );
    }
}
