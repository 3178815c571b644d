//! The one rustls client configuration behind every TLS connection a node opens (LDAP and
//! other nodes; PostgreSQL follows `sslmode`/`sslrootcert` of `database_url` in sqlx): the
//! system's roots plus the PEM bundles of the settings, with the ring provider. Certificates
//! are always verified; there is no switch to turn that off.
//!
//! System roots come from the operating system's store (`rustls-native-certs`, which ldap3
//! and sqlx use already) rather than a copy compiled in: a school that installs its CA with
//! `update-ca-certificates` is trusted without any boardcast setting, and no second list of
//! roots enters the binary.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use crate::config::{LdapSettings, Settings};
use rustls::{
    pki_types::{pem::PemObject, CertificateDer},
    ClientConfig, RootCertStore,
};

/// A PEM bundle to trust besides the system roots, with the setting that named it (for
/// start-up errors).
#[derive(Debug, Clone, Copy)]
pub struct ExtraCa<'a> {
    pub key: &'static str,
    pub path: &'a Path,
}

/// The path of a CA setting, an empty one counting as unset (a config file may well say
/// `tls_ca_file = ""`).
pub fn ca_path(setting: &Option<PathBuf>) -> Option<&Path> {
    setting
        .as_deref()
        .filter(|path| !path.as_os_str().is_empty())
}

/// For other nodes: the system roots and the top-level `tls_ca_file`.
pub fn for_peers(settings: &Settings) -> anyhow::Result<ClientConfig> {
    client_config(&school_ca(settings))
}

/// For the directory: the peers' roots and `[ldap] tls_ca_file`.
pub fn for_directory(
    settings: &Settings,
    ldap: &LdapSettings,
) -> anyhow::Result<Arc<ClientConfig>> {
    let mut extra = school_ca(settings);
    extra.extend(ca_path(&ldap.tls_ca_file).map(|path| ExtraCa {
        key: "ldap.tls_ca_file",
        path,
    }));
    client_config(&extra).map(Arc::new)
}

fn school_ca(settings: &Settings) -> Vec<ExtraCa<'_>> {
    ca_path(&settings.tls_ca_file)
        .map(|path| ExtraCa {
            key: "tls_ca_file",
            path,
        })
        .into_iter()
        .collect()
}

/// Reads each bundle once, at start-up; an unreadable bundle, or one without a certificate,
/// is an error naming its key, so a typo cannot leave the school's CA silently untrusted.
pub fn client_config(extra: &[ExtraCa<'_>]) -> anyhow::Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    for error in &system.errors {
        tracing::warn!(%error, "some system CA certificates could not be read");
    }
    let (added, ignored) = roots.add_parsable_certificates(system.certs);
    if ignored > 0 {
        tracing::debug!(
            added,
            ignored,
            "system CA certificates rustls cannot use were skipped"
        );
    }
    for ca in extra {
        for certificate in read_bundle(ca)? {
            roots
                .add(certificate)
                .map_err(|error| anyhow::anyhow!("{}: {}: {error}", ca.key, ca.path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn read_bundle(ca: &ExtraCa<'_>) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let failed = |reason: String| anyhow::anyhow!("{}: {}: {reason}", ca.key, ca.path.display());
    let pem = std::fs::read(ca.path).map_err(|error| failed(error.to_string()))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| failed(format!("not a PEM bundle: {error}")))?;
    if certificates.is_empty() {
        return Err(failed("no certificate in the file".into()));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_config_with(path: &Path) -> anyhow::Result<ClientConfig> {
        client_config(&[ExtraCa {
            key: "tls_ca_file",
            path,
        }])
    }

    #[test]
    fn a_missing_ca_file_is_an_error_naming_the_key() {
        let error = client_config_with(Path::new("/nonexistent/ca.pem")).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("tls_ca_file: /nonexistent/ca.pem"),
            "{message}"
        );
    }

    #[test]
    fn a_ca_file_without_certificates_is_an_error_naming_the_key() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "not a certificate\n").unwrap();
        let message = client_config_with(file.path()).unwrap_err().to_string();
        assert!(message.starts_with("tls_ca_file: "), "{message}");
        assert!(message.contains("no certificate"), "{message}");
    }

    #[test]
    fn an_empty_ca_path_counts_as_unset() {
        assert_eq!(ca_path(&Some(PathBuf::new())), None);
        assert_eq!(ca_path(&None), None);
        let set = Some(PathBuf::from("/etc/boardcast/ca.pem"));
        assert_eq!(ca_path(&set), Some(Path::new("/etc/boardcast/ca.pem")));
    }
}
