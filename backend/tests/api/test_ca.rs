//! A throwaway certificate authority and a server certificate it signed for `localhost` and
//! `127.0.0.1`, written to a temp dir by the `openssl` command line, for nodes serving https
//! and clients that trust only this CA.

use std::{path::PathBuf, process::Command};

use tempfile::TempDir;

/// The CA's certificate and the server's certificate and key (PEM files), removed on drop.
pub struct TestCa {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    _dir: TempDir,
}

impl TestCa {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let p256 = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"][..],
                &p256[..],
                &["-days", "2", "-subj", "/CN=boardcast test CA"],
            ]
            .concat(),
            &[("-keyout", path("ca.key")), ("-out", path("ca.pem"))],
            &[
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        openssl(
            &[&["req"][..], &p256[..], &["-subj", "/CN=localhost"]].concat(),
            &[
                ("-keyout", path("server.key")),
                ("-out", path("server.csr")),
            ],
            &[],
        );
        std::fs::write(
            path("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            &["x509", "-req", "-days", "2", "-CAcreateserial"],
            &[
                ("-in", path("server.csr")),
                ("-CA", path("ca.pem")),
                ("-CAkey", path("ca.key")),
                ("-extfile", path("server.ext")),
                ("-out", path("server.pem")),
            ],
            &[],
        );
        Self {
            ca_cert: path("ca.pem"),
            server_cert: path("server.pem"),
            server_key: path("server.key"),
            _dir: dir,
        }
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca_cert).unwrap()
    }
}

fn openssl(args: &[&str], files: &[(&str, PathBuf)], extra: &[&str]) {
    let mut command = Command::new("openssl");
    command.args(args);
    for (flag, file) in files {
        command.arg(flag).arg(file);
    }
    command.args(extra);
    let output = command
        .output()
        .expect("the openssl command line is needed to make test certificates: install openssl");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
