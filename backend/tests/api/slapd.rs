//! A private slapd for a test: a temp dir, an mdb database loaded from
//! `tests/fixtures/school.ldif`, a free loopback port; killed when dropped. `pause` and
//! `resume` freeze the process (SIGSTOP/SIGCONT): it keeps accepting TCP connections but
//! never answers, which is what a hung directory looks like.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use boardcast::config::{LdapSettings, Secret};
use tempfile::TempDir;

use crate::test_ca::TestCa;

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
/// The directory's own administrator, who may change groups in tests.
const ADMIN_DN: &str = "cn=admin,dc=school,dc=example";
const ADMIN_PASSWORD: &str = "admin-secret";

/// A running private slapd; dropping it kills the server and removes its files.
pub struct Slapd {
    port: u16,
    /// With TLS: the `ldaps://` port, beside `ldap://` on `port` (where StartTLS works).
    ldaps_port: Option<u16>,
    child: Option<Child>,
    dir: TempDir,
}

/// TLS for a test slapd: the certificate of `ca`, and whether binds without TLS are refused
/// (`security tls=1`), so a login that works proves the connection was encrypted.
pub struct SlapdTls<'a> {
    pub ca: &'a TestCa,
    pub require_tls: bool,
}

impl Slapd {
    /// Loads the fixture into a fresh database and starts serving it; panics (naming the
    /// packages to install) if slapd is missing.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// As [`Slapd::start`], serving `ldaps://` too and offering StartTLS.
    pub async fn start_tls(tls: SlapdTls<'_>) -> Self {
        Self::start_with(Some(tls)).await
    }

    async fn start_with(tls: Option<SlapdTls<'_>>) -> Self {
        assert!(
            Path::new(SLAPD).exists() && Path::new(SLAPADD).exists(),
            "slapd is not installed: apt-get install slapd ldap-utils"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("db")).unwrap();
        let tls_config = tls.as_ref().map(tls_config).unwrap_or_default();
        let config = format!("{tls_config}{}", config(dir.path()));
        std::fs::write(dir.path().join("slapd.conf"), config).unwrap();
        let ldif = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/school.ldif");
        let out = Command::new(SLAPADD)
            .arg("-f")
            .arg(dir.path().join("slapd.conf"))
            .args(["-l", ldif])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut slapd = Self {
            port: crate::postgres::free_port(),
            ldaps_port: tls.is_some().then(crate::postgres::free_port),
            child: None,
            dir,
        };
        slapd.spawn().await;
        slapd
    }

    async fn spawn(&mut self) {
        let log = self.dir.path().join("slapd.log");
        let mut listen = format!("ldap://127.0.0.1:{}/", self.port);
        if let Some(ldaps_port) = self.ldaps_port {
            listen.push_str(&format!(" ldaps://127.0.0.1:{ldaps_port}/"));
        }
        let child = Command::new(SLAPD)
            .args(["-d", "0", "-h", &listen, "-f"])
            .arg(self.dir.path().join("slapd.conf"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "slapd did not start on port {} ({exited:?}): {}",
                self.port,
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// The `ldaps://` URL of a server started with [`Slapd::start_tls`].
    pub fn ldaps_url(&self) -> String {
        let port = self.ldaps_port.expect("slapd was started without TLS");
        format!("ldaps://127.0.0.1:{port}")
    }

    /// Settings for boardcast pointing at this server, with a 1 s timeout.
    pub fn settings(&self) -> LdapSettings {
        LdapSettings {
            urls: vec![self.url()],
            bind_dn: "cn=reader,dc=school,dc=example".into(),
            bind_password: Secret::new("reader-secret"),
            user_base: "ou=people,dc=school,dc=example".into(),
            user_filter: "(&(objectClass=inetOrgPerson)(uid={username}))".into(),
            display_name_attribute: "cn".into(),
            teacher_group: "cn=teachers,ou=groups,dc=school,dc=example".into(),
            admin_group: "cn=admins,ou=groups,dc=school,dc=example".into(),
            timeout: Duration::from_secs(1),
            role_cache: Duration::from_secs(30),
            tls_ca_file: None,
            starttls: false,
        }
    }

    /// Kills the server (SIGKILL, as a crash would) and reaps it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same data.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// A connection bound as the directory's admin.
    async fn as_admin(&self) -> ldap3::Ldap {
        let (driver, mut ldap) = ldap3::LdapConnAsync::new(&self.url()).await.unwrap();
        ldap3::drive!(driver);
        ldap.simple_bind(ADMIN_DN, ADMIN_PASSWORD)
            .await
            .unwrap()
            .success()
            .unwrap();
        ldap
    }

    /// Takes `member` (a DN) out of the group `group` (a DN), as the directory's admin would.
    pub async fn remove_member(&self, group: &str, member: &str) {
        let mut ldap = self.as_admin().await;
        let removal = ldap3::Mod::Delete("member", std::collections::HashSet::from([member]));
        ldap.modify(group, vec![removal])
            .await
            .unwrap()
            .success()
            .unwrap();
        ldap.unbind().await.unwrap();
    }

    /// Deletes the entry `dn`, as the directory's admin would when someone leaves the school.
    pub async fn delete_entry(&self, dn: &str) {
        let mut ldap = self.as_admin().await;
        ldap.delete(dn).await.unwrap().success().unwrap();
        ldap.unbind().await.unwrap();
    }

    /// Freezes the server: the kernel still completes TCP handshakes, nothing answers.
    /// Returns once the process is stopped (a signal is delivered asynchronously, and a
    /// server still running could answer the next request).
    pub fn pause(&self) {
        self.signal("-STOP");
        let pid = self.child.as_ref().expect("slapd is not running").id();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !is_stopped(pid) {
            assert!(Instant::now() < deadline, "slapd did not stop");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("slapd is not running").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// Whether the process is stopped by a signal (state `T` in `/proc/<pid>/stat`).
fn is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the command name, which is in parentheses.
            let after_name = &stat[stat.rfind(')')? + 1..];
            after_name
                .split_whitespace()
                .next()
                .map(|state| state == "T")
        })
        .unwrap_or(false)
}

impl Drop for Slapd {
    fn drop(&mut self) {
        // SIGKILL ends a paused server too.
        self.stop();
    }
}

/// Global directives, so they must come before the database's.
fn tls_config(tls: &SlapdTls<'_>) -> String {
    let mut config = format!(
        "TLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
        tls.ca.cert_file().display(),
        tls.ca.key_file().display()
    );
    if tls.require_tls {
        config.push_str("security tls=1\n");
    }
    config
}

fn config(dir: &Path) -> String {
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {dir}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix \"dc=school,dc=example\"
rootdn \"{ADMIN_DN}\"
rootpw {ADMIN_PASSWORD}
directory {dir}/db
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
",
        dir = dir.display()
    )
}
