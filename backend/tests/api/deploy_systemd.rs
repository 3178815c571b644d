//! The systemd units in `deploy/systemd/` as `systemd-analyze verify` reads them: no unknown
//! key and no value systemd would skip, so a unit an operator installs does what it says.

use std::{path::Path, process::Command};

use crate::deploy_configs::deploy_file;

const SYSTEMD_ANALYZE: &str = "/usr/bin/systemd-analyze";
/// What pgautofailover.service runs; verify wants it installed.
const PG_AUTOCTL: &str = "/usr/bin/pg_autoctl";

const UNITS: [&str; 4] = [
    "boardcast.service",
    "boardcast-backup.service",
    "boardcast-backup.timer",
    "pgautofailover.service",
];

#[test]
fn the_example_units_pass_systemd_analyze_verify() {
    assert!(
        Path::new(SYSTEMD_ANALYZE).exists(),
        "systemd-analyze is not installed: apt-get install systemd"
    );
    assert!(
        Path::new(PG_AUTOCTL).exists(),
        "pg_autoctl is not installed: apt-get install pg-auto-failover-cli"
    );
    let dir = tempfile::tempdir().unwrap();
    for unit in UNITS {
        let text = std::fs::read_to_string(deploy_file(&format!("systemd/{unit}"))).unwrap();
        // verify checks that each ExecStart= program exists: the binary an operator installs
        // as /usr/local/bin/boardcast is, here, the one this test was built with.
        let text = text.replace("/usr/local/bin/boardcast", env!("CARGO_BIN_EXE_boardcast"));
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    let out = Command::new(SYSTEMD_ANALYZE)
        .arg("verify")
        .args(UNITS.map(|unit| dir.path().join(unit)))
        .output()
        .unwrap();
    // Unknown keys and unparsable values are only warnings: any output at all fails.
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
}
