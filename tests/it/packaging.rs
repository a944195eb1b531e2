//! The files that install Promptyard: the systemd unit passes `systemd-analyze verify` and keeps
//! its exposure score (`systemd-analyze security`) low.

use std::process::Command;

/// The unit with its `ExecStart` pointed at the binary under test (verify checks it exists).
fn unit_under_test(dir: &std::path::Path) -> std::path::PathBuf {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/promptyard.service"
    ))
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/promptyard serve"));
    let path = dir.join("promptyard.service");
    let unit = unit.replace("/usr/bin/promptyard", env!("CARGO_BIN_EXE_promptyard"));
    std::fs::write(&path, unit).unwrap();
    path
}

fn systemd_analyze() -> Option<&'static str> {
    let found = Command::new("systemd-analyze").arg("--version").output();
    match found {
        Ok(out) if out.status.success() => Some("systemd-analyze"),
        _ => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped: systemd-analyze is not installed (Debian package systemd)"
            );
            None
        }
    }
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let Some(tool) = systemd_analyze() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_under_test(dir.path());
    let out = Command::new(tool)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "verify failed: {said}");
    assert!(
        !said.contains("promptyard.service"),
        "verify complained: {said}"
    );
    // 0 is a fully locked-down service, 10 an unprotected one; 2 and below reads "OK". The
    // threshold is in tenths.
    let out = Command::new(tool)
        .args(["security", "--offline=true", "--threshold=20", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let level = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or("no overall level")
        .to_owned();
    assert!(out.status.success(), "exposure above 2: {level}\n{report}");
}
