//! The nginx files in `deploy/nginx/` as nginx itself reads them: the two sites pass
//! `nginx -t` with a throwaway certificate, and `spa-locations.conf` serves the browser app
//! with the caching and the page policy a node gives it, so the examples cannot rot.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tempfile::TempDir;

use crate::{
    deploy_configs::deploy_file,
    helpers::{Engine, TestApp},
    postgres::free_port,
    test_ca::TestCa,
};

const NGINX: &str = "/usr/sbin/nginx";

/// A directory holding everything nginx writes (pid, logs, temp files), so it runs without
/// root, and an nginx.conf there around `config` (directives of the `http` block).
struct NginxDir {
    dir: TempDir,
}

impl NginxDir {
    fn new(main: &str, config: &str) -> Self {
        assert!(
            Path::new(NGINX).exists(),
            "nginx is not installed: apt-get install nginx-light"
        );
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().display();
        let conf = format!(
            "{main}\npid {at}/nginx.pid;\nerror_log {at}/error.log;\nevents {{}}\nhttp {{\n\
             include /etc/nginx/mime.types;\naccess_log {at}/access.log;\n\
             client_body_temp_path {at}/body;\nproxy_temp_path {at}/proxy;\n\
             fastcgi_temp_path {at}/fastcgi;\nuwsgi_temp_path {at}/uwsgi;\n\
             scgi_temp_path {at}/scgi;\n{config}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `nginx` with this directory as prefix, config and startup error log.
    fn command(&self) -> Command {
        let mut command = Command::new(NGINX);
        command
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(self.path("nginx.conf"))
            .arg("-e")
            .arg(self.path("error.log"));
        command
    }
}

/// `text` with every `from` replaced, which must be there: a test that edits nothing proves
/// nothing.
fn replaced(text: &str, from: &str, to: impl std::fmt::Display) -> String {
    assert!(text.contains(from), "`{from}` is no longer in the example");
    text.replace(from, &to.to_string())
}

/// The ports `nginx -t` binds in place of 443 and 80: free IPv4 loopback ports, so the check
/// needs no root, no idle port 443 and no IPv6 (the `[::]` lines get ports of their own,
/// since one server may not listen twice on one address).
struct TestPorts {
    https: [u16; 2],
    http: [u16; 2],
}

impl TestPorts {
    fn new() -> Self {
        Self {
            https: [free_port(), free_port()],
            http: [free_port(), free_port()],
        }
    }
}

/// An example site with its listening ports, certificate, app directory and included file
/// swapped for the test's own.
fn site(name: &str, ports: &TestPorts, ca: &TestCa, root: &Path) -> String {
    let text = std::fs::read_to_string(deploy_file(&format!("nginx/{name}"))).unwrap();
    let [v4, v6] = ports.https.map(|port| format!("listen 127.0.0.1:{port} "));
    let text = replaced(&text, "listen 443 ", v4);
    let text = replaced(&text, "listen [::]:443 ", v6);
    let text = replaced(
        &text,
        "/etc/ssl/boardcast/fullchain.pem",
        ca.cert_file().display(),
    );
    let text = replaced(
        &text,
        "/etc/ssl/boardcast/privkey.pem",
        ca.key_file().display(),
    );
    if name != "boardcast-spa.conf" {
        return text;
    }
    let [v4, v6] = ports.http.map(|port| format!("listen 127.0.0.1:{port};"));
    let text = replaced(&text, "listen 80;", v4);
    let text = replaced(&text, "listen [::]:80;", v6);
    let text = replaced(&text, "/var/www/boardcast", root.display());
    replaced(
        &text,
        "/etc/nginx/snippets/boardcast-spa-locations.conf",
        deploy_file("nginx/spa-locations.conf").display(),
    )
}

#[test]
fn the_example_sites_pass_nginx_t() {
    let ca = TestCa::new();
    let root = tempfile::tempdir().unwrap();
    let ports = TestPorts::new();
    let sites = ["boardcast-spa.conf", "boardcast-api.conf"]
        .map(|name| site(name, &ports, &ca, root.path()));
    let nginx = NginxDir::new("", &sites.join("\n"));
    let out = nginx.command().arg("-t").output().unwrap();
    assert!(
        out.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// nginx serving a stand-in for the built app through `spa-locations.conf` on a loopback
/// port, stopped when dropped.
struct SpaServer {
    port: u16,
    child: Child,
    _root: TempDir,
    _nginx: NginxDir,
}

/// The hashed asset of the stand-in app.
const ASSET: &str = "/assets/index-1a2b3c4d.js";

impl SpaServer {
    fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        let at = root.path();
        std::fs::create_dir(at.join("assets")).unwrap();
        let page = format!("<!doctype html><div id=\"app\"></div>{}", " ".repeat(1024));
        std::fs::write(at.join("index.html"), page).unwrap();
        let script = "console.log('boardcast');\n".repeat(64);
        std::fs::write(at.join(ASSET.trim_start_matches('/')), &script).unwrap();
        std::fs::write(at.join("sw.js"), "self.skipWaiting();\n").unwrap();
        let config = std::fs::read(deploy_file("nginx/config.json")).unwrap();
        std::fs::write(at.join("config.json"), config).unwrap();
        let port = free_port();
        let server = format!(
            "server {{\nlisten 127.0.0.1:{port};\nroot {};\ninclude {};\n}}",
            at.display(),
            deploy_file("nginx/spa-locations.conf").display()
        );
        let nginx = NginxDir::new("daemon off;\nmaster_process off;", &server);
        let mut child = nginx.command().stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = child.try_wait().unwrap().is_some();
            if exited || Instant::now() > deadline {
                let _ = child.kill();
                let log = std::fs::read_to_string(nginx.path("error.log")).unwrap_or_default();
                panic!("nginx is not serving: {log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            port,
            child,
            _root: root,
            _nginx: nginx,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::Client::builder()
            .no_gzip()
            .build()
            .unwrap()
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap()
    }
}

impl Drop for SpaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map_or("", |value| value.to_str().unwrap())
}

#[tokio::test]
async fn spa_locations_serve_the_app_with_a_nodes_caching() {
    let spa = SpaServer::start();
    for route in ["/", "/board", "/lessons", "/index.html"] {
        let page = spa.get(route).await;
        assert_eq!(page.status(), 200, "{route}");
        assert_eq!(header(&page, "cache-control"), "no-cache", "{route}");
        assert!(header(&page, "content-type").starts_with("text/html"));
        assert_eq!(header(&page, "content-encoding"), "gzip", "{route}");
    }
    for revalidated in ["/config.json", "/sw.js"] {
        let file = spa.get(revalidated).await;
        assert_eq!(file.status(), 200, "{revalidated}");
        assert_eq!(header(&file, "cache-control"), "no-cache", "{revalidated}");
    }
    let asset = spa.get(ASSET).await;
    assert_eq!(asset.status(), 200);
    assert_eq!(
        header(&asset, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    for missing in ["/assets/index-0000.js", "/favicon.ico", "/assets/"] {
        let error = spa.get(missing).await;
        assert_eq!(error.status(), 404, "{missing}");
        assert_eq!(header(&error, "cache-control"), "no-store", "{missing}");
    }
}

#[tokio::test]
async fn the_app_from_nginx_has_the_page_policy_of_the_app_from_a_node() {
    let spa = SpaServer::start();
    let node = TestApp::spawn(Engine::Sqlite).await;
    let from_node = reqwest::get(node.url("/board")).await.unwrap();
    let from_nginx = spa.get("/board").await;
    for name in [
        "content-security-policy",
        "referrer-policy",
        "x-content-type-options",
    ] {
        assert!(
            !header(&from_node, name).is_empty(),
            "the node sends no {name}"
        );
        assert_eq!(
            header(&from_nginx, name),
            header(&from_node, name),
            "{name}"
        );
    }
}
