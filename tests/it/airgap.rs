//! The air-gap run: the server in a network namespace with only loopback (`unshare --net`), a
//! local OpenAI-compatible model server beside it, and a scripted session through the pages,
//! the JSON API and `/v1` (tests/it/airgap/session.sh). strace records every `connect()` the
//! server makes; the only destination allowed is the configured local model endpoint.
//! Needs root (for the namespace), strace, python3 and curl, which CI installs.

use std::process::Command;

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn an_air_gapped_session_connects_only_to_the_local_model() {
    let missing: Vec<&str> = ["unshare", "strace", "python3", "curl", "ip"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !missing.is_empty() || !root {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the air-gap test needs root and {missing:?} (root: {root})"
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/airgap/session.sh");
    let out = Command::new("unshare")
        .args(["--net", "bash", script, env!("CARGO_BIN_EXE_promptyard")])
        .arg(work.path())
        .env_remove("PROMPTYARD_TEST_POSTGRES_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(work.path().join("server.log")).unwrap_or_default();
    assert!(
        out.status.success() && stdout.contains("session complete"),
        "the session failed:\n{stdout}\n{}\nserver log:\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = std::fs::read_to_string(work.path().join("connects.txt")).unwrap();
    let inet: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("connect(") && (l.contains("AF_INET") || l.contains("AF_INET6")))
        .collect();
    assert!(
        inet.iter().any(|l| l.contains("sin_port=htons(11434)")),
        "the server never called the local model:\n{trace}"
    );
    let elsewhere: Vec<&&str> = inet
        .iter()
        .filter(|l| {
            !(l.contains("sin_port=htons(11434)") && l.contains("inet_addr(\"127.0.0.1\")"))
        })
        .collect();
    assert!(
        elsewhere.is_empty(),
        "connection attempts other than the local model:\n{elsewhere:#?}"
    );
}
