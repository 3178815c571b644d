//! TLS termination in the node (`[web] tls_cert` and `tls_key`), for schools without a proxy
//! in front: the certificate and key are checked at start-up, so a wrong path or file stops
//! the node with a message naming the key instead of failing every handshake later.

use std::{path::Path, sync::Arc};

use anyhow::{anyhow, bail, Context};
use tokio_rustls::{
    rustls::{
        crypto::ring,
        pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
        ServerConfig,
    },
    TlsAcceptor,
};

use crate::config::WebSettings;

/// The acceptor for `[web]`'s certificate and key, or none when both are unset (plain http).
pub fn acceptor(web: &WebSettings) -> anyhow::Result<Option<TlsAcceptor>> {
    let set = |path: &Option<std::path::PathBuf>| {
        path.clone().filter(|path| !path.as_os_str().is_empty())
    };
    let (cert, key) = match (set(&web.tls_cert), set(&web.tls_key)) {
        (None, None) => return Ok(None),
        (Some(_), None) => bail!("[web] tls_cert is set but tls_key is not: set both, or neither"),
        (None, Some(_)) => bail!("[web] tls_key is set but tls_cert is not: set both, or neither"),
        (Some(cert), Some(key)) => (cert, key),
    };
    let chain = certificate_chain(&cert)?;
    let key = private_key(&key)?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .context("TLS: no protocol version available")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| anyhow!("[web] tls_key does not fit tls_cert: {error}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

fn certificate_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("[web] tls_cert: cannot read {}", path.display()))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| anyhow!("[web] tls_cert: {} is not PEM: {error}", path.display()))?;
    if chain.is_empty() {
        bail!("[web] tls_cert: {} holds no certificate", path.display());
    }
    Ok(chain)
}

fn private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("[web] tls_key: cannot read {}", path.display()))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|error| {
        anyhow!(
            "[web] tls_key: {} holds no private key: {error}",
            path.display()
        )
    })
}
