//! A TLS-terminating proxy in front of a node, as a school's reverse proxy would be: it
//! presents the test CA's server certificate on `127.0.0.1` and passes the bytes on to the
//! node in plain HTTP. Its port is known before the node starts, so the node's `public_url`
//! can be the proxy's `https://` URL.

use std::{net::SocketAddr, sync::Arc};

use rustls::{
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    ServerConfig,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::test_ca::TestCa;

pub struct TlsProxy {
    listener: TcpListener,
    acceptor: TlsAcceptor,
}

impl TlsProxy {
    pub async fn bind(ca: &TestCa) -> Self {
        let certs = CertificateDer::pem_file_iter(ca.cert_file())
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(ca.key_file()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        Self {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }
    }

    pub fn https_url(&self) -> String {
        format!("https://{}", self.listener.local_addr().unwrap())
    }

    /// Forwards every connection to `node` until the test's runtime ends.
    pub fn forward_to(self, node: SocketAddr) {
        tokio::spawn(async move {
            while let Ok((client, _)) = self.listener.accept().await {
                let acceptor = self.acceptor.clone();
                tokio::spawn(async move {
                    // A client that rejects the certificate ends its connection here.
                    let Ok(mut client) = acceptor.accept(client).await else {
                        return;
                    };
                    let mut upstream = TcpStream::connect(node).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
            }
        });
    }
}
