//! The command line, run as the built binary: check-config, admin commands, the redb lock.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::helpers::TestApp;

fn promptyard(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_promptyard"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("PROMPTYARD_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PROMPTYARD_")) {
        cmd.env_remove(k);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn check_config_names_a_misspelled_key_and_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[auth]\nregistraton = \"open\"\n",
    )
    .unwrap();
    let out = promptyard(dir.path(), &["check-config", "--config", "bad.toml"], None);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("auth.registraton") && err.contains("unknown key"),
        "{err}"
    );
    assert!(
        err.contains("registration"),
        "the known keys are suggested: {err}"
    );

    std::fs::write(
        dir.path().join("good.toml"),
        "listen = \"127.0.0.1:9999\"\n[storage]\nurl = \"postgres://app:s3cret@db.internal/py\"\n",
    )
    .unwrap();
    let out = promptyard(dir.path(), &["check-config", "--config", "good.toml"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("listen = \"127.0.0.1:9999\""), "{printed}");
    assert!(
        printed.contains("app:***@db.internal") && !printed.contains("s3cret"),
        "{printed}"
    );
    assert!(
        printed.contains("[auth]") && printed.contains("registration = \"closed\""),
        "{printed}"
    );

    // ./promptyard.toml is read when present, and flags override it.
    std::fs::write(
        dir.path().join("promptyard.toml"),
        "listen = \"127.0.0.1:7000\"\n",
    )
    .unwrap();
    let out = promptyard(
        dir.path(),
        &["check-config", "--listen", "127.0.0.1:7001"],
        None,
    );
    assert!(
        text(&out.stdout).contains("127.0.0.1:7001"),
        "{}",
        text(&out.stdout)
    );

    let out = promptyard(
        dir.path(),
        &["check-config", "--config", "missing.toml"],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("missing.toml"));
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["check-config", "--help"],
        vec!["admin", "--help"],
        vec!["admin", "create-user", "--help"],
        vec!["admin", "reset-password", "--help"],
    ] {
        let out = promptyard(dir.path(), &args, None);
        assert!(out.status.success(), "{args:?}");
        let help = text(&out.stdout);
        assert!(
            help.contains("Usage:") && help.len() > 200,
            "{args:?}: {help}"
        );
    }
}

#[tokio::test]
async fn admin_commands_provision_accounts_and_refuse_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let out = promptyard(
        dir.path(),
        &[
            "admin",
            "create-user",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
            "--admin",
            "--password-stdin",
            "--data-dir",
            data_arg,
        ],
        Some("ops password 1\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("created admin account ops@example.com"));

    let out = promptyard(
        dir.path(),
        &[
            "admin",
            "create-user",
            "--email",
            "OPS@example.com",
            "--name",
            "Dup",
            "--data-dir",
            data_arg,
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );

    let out = promptyard(
        dir.path(),
        &[
            "admin",
            "create-user",
            "--email",
            "gen@example.com",
            "--name",
            "Gen",
            "--data-dir",
            data_arg,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let generated = text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("password: ").map(str::to_owned))
        .unwrap();

    let app = TestApp::spawn_with(|c| c.data_dir = data.clone()).await;
    let ops = app.login("ops@example.com", "ops password 1").await;
    app.login("gen@example.com", &generated).await;
    assert!(app.is_logged_in(&ops).await);

    // The server holds the redb file: admin commands refuse with a clear message.
    let out = promptyard(
        dir.path(),
        &[
            "admin",
            "reset-password",
            "--email",
            "ops@example.com",
            "--password-stdin",
            "--data-dir",
            data_arg,
        ],
        Some("another password"),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("in use by another process") && err.contains("stop the running"),
        "{err}"
    );
    app.stop().await;

    let out = promptyard(
        dir.path(),
        &[
            "admin",
            "reset-password",
            "--email",
            "ops@example.com",
            "--password-stdin",
            "--data-dir",
            data_arg,
        ],
        Some("another password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = promptyard(
        dir.path(),
        &[
            "admin",
            "reset-password",
            "--email",
            "nobody@example.com",
            "--password-stdin",
            "--data-dir",
            data_arg,
        ],
        Some("another password\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no account has the email"));

    let app = TestApp::spawn_with(|c| c.data_dir = data.clone()).await;
    assert!(
        !app.is_logged_in(&ops).await,
        "the reset ended the old session"
    );
    app.login("ops@example.com", "another password").await;
    let actions: Vec<String> = app
        .store
        .list_audit_events(&Default::default(), None, 50)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        actions.contains(&"user.password_reset".to_owned()),
        "{actions:?}"
    );
}

#[test]
fn serve_starts_on_defaults_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = Command::new(env!("CARGO_BIN_EXE_promptyard"))
        .current_dir(dir.path())
        .env("PROMPTYARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("PROMPTYARD_LOG__FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(up, "the server did not start");
    assert!(
        dir.path().join("data/promptyard.redb").exists(),
        "data lives under ./data"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit after SIGTERM: {:?}", out.status);
    let log = text(&out.stderr);
    assert!(
        log.contains("listening on http://127.0.0.1:") && log.contains("\"level\":\"INFO\""),
        "{log}"
    );
    assert!(log.contains("shutting down"), "{log}");
}

#[tokio::test]
async fn provider_keys_are_sealed_and_survive_a_master_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let canary = "sk-canary-7f3a9c1e";
    let out = promptyard(
        dir.path(),
        &[
            "admin",
            "create-user",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
            "--admin",
            "--password-stdin",
            "--data-dir",
            data_arg,
        ],
        Some("ops password 1\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = promptyard(
        dir.path(),
        &[
            "admin",
            "add-provider",
            "--name",
            "OpenAI",
            "--kind",
            "openai",
            "--model",
            "gpt-4o-mini",
            "--api-key-stdin",
            "--data-dir",
            data_arg,
        ],
        Some(&format!("{canary}\n")),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("its key is sealed"),
        "{}",
        text(&out.stdout)
    );
    assert!(!text(&out.stdout).contains(canary) && !text(&out.stderr).contains(canary));
    let key_file = dir.path().join("promptyard.key");
    let first_key = std::fs::read_to_string(&key_file).unwrap();
    let db = std::fs::read(data.join("promptyard.redb")).unwrap();
    assert!(
        !db.windows(canary.len()).any(|w| w == canary.as_bytes()),
        "the key is not stored in clear"
    );

    // A provider without a key it needs is refused with the field named.
    let out = promptyard(
        dir.path(),
        &[
            "admin",
            "add-provider",
            "--name",
            "Claude",
            "--kind",
            "anthropic",
            "--data-dir",
            data_arg,
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("needs an API key"),
        "{}",
        text(&out.stderr)
    );

    let out = promptyard(
        dir.path(),
        &["admin", "rotate-master-key", "--data-dir", data_arg],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("re-sealed 1 provider key"),
        "{}",
        text(&out.stdout)
    );
    let second_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(first_key, second_key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // The stored key opens with the new master key only.
    let store = promptyard::store::redb::RedbStore::open(
        &data.join("promptyard.redb"),
        promptyard::clock::Clock::system(),
    )
    .unwrap();
    use promptyard::store::ConnectionStore;
    let conns = store.list_connections(None).await.unwrap();
    let conn = &conns[0];
    let sealed = conn.sealed_key.as_ref().unwrap();
    let context = promptyard::domain::Connection::key_context(conn.id);
    let new = promptyard::crypto::MasterKey::parse(&second_key).unwrap();
    let old = promptyard::crypto::MasterKey::parse(&first_key).unwrap();
    assert_eq!(new.open(&context, sealed).unwrap(), canary.as_bytes());
    assert!(old.open(&context, sealed).is_err());
    drop(store);

    // Started where the key file is not (another directory), the server refuses rather than
    // make a new key that cannot open the sealed ones.
    let elsewhere = tempfile::tempdir().unwrap();
    let config = promptyard::config::Config {
        data_dir: data.clone(),
        config_dir: elsewhere.path().to_owned(),
        ..promptyard::config::Config::default()
    };
    let Err(err) = promptyard::App::build(&config, promptyard::clock::Clock::system()).await else {
        panic!("started with a new master key over sealed keys");
    };
    let text = format!("{err:?}");
    assert!(
        text.contains("was missing") && text.contains("1 provider key"),
        "{text}"
    );
    assert!(
        !elsewhere.path().join("promptyard.key").exists(),
        "no stray key file is left"
    );
}

/// Starts `promptyard serve` on `data`; returns the child and its base URL once it answers.
fn start_server(dir: &std::path::Path, data: &str) -> (std::process::Child, String) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_promptyard"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PROMPTYARD_")) {
        cmd.env_remove(k);
    }
    let child = cmd
        .current_dir(dir)
        .args(["--data-dir", data, "serve"])
        .env("PROMPTYARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("PROMPTYARD_COMMUNITY__SUBMISSIONS_PER_DAY", "10000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = child;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, format!("http://127.0.0.1:{port}"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start");
}

async fn logged_in(base: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("origin", base.parse().unwrap());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    let res = client
        .post(format!("{base}/login"))
        .form(&[("email", "ops@example.com"), ("password", "ops password 1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    client
}

async fn found(client: &reqwest::Client, base: &str, q: &str) -> u64 {
    let body: serde_json::Value = client
        .get(format!("{base}/api/search"))
        .query(&[("scope", "community"), ("q", q)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["total"].as_u64().unwrap()
}

#[tokio::test]
async fn search_survives_kill_9_mid_indexing_and_reindex_rebuilds_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let out = promptyard(
        dir.path(),
        &[
            "admin",
            "create-user",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
            "--admin",
            "--password-stdin",
            "--data-dir",
            data_arg,
        ],
        Some("ops password 1\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (mut server, base) = start_server(dir.path(), data_arg);
    let client = logged_in(&base).await;
    let total = 400;
    let mut sent = Vec::new();
    for i in 0..total {
        let c = client.clone();
        let url = format!("{base}/api/community/prompts");
        sent.push(tokio::spawn(async move {
            c.post(url)
                .json(&serde_json::json!({"title": format!("Killable {i}"), "prompt": "Survive the crash"}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for s in sent {
        assert_eq!(s.await.unwrap(), 201);
    }
    // Every submission is acknowledged (stored); kill -9 while the indexer may be mid-batch.
    server.kill().unwrap();
    server.wait().unwrap();

    let (mut server, base) = start_server(dir.path(), data_arg);
    let client = logged_in(&base).await;
    let start = std::time::Instant::now();
    loop {
        let n = found(&client, &base, "survive crash").await;
        if n == total {
            break;
        }
        assert!(n < total, "{n} results: something was indexed twice");
        assert!(
            start.elapsed().as_secs() < 20,
            "only {n} of {total} found after 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();

    let out = promptyard(dir.path(), &["--data-dir", data_arg, "reindex"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("reindexed {total} documents")),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("100%"),
        "a progress bar: {}",
        text(&out.stderr)
    );
}

/// Runs `serve` expecting it to refuse to start; returns (exit code, stderr, files left in `dir`).
fn serve_refused(dir: &std::path::Path, args: &[&str]) -> (i32, String, Vec<String>) {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    let out = promptyard(dir, &all, None);
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    (out.status.code().unwrap_or(-1), text(&out.stderr), left)
}

#[test]
fn serve_names_a_taken_port_and_an_unusable_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    // A taken port: exit 4, before anything is written (no key file, no data directory).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, err, left) = serve_refused(dir.path(), &["--listen", &addr, "--data-dir", "data"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(&format!(
            "cannot listen on {addr}: another program is using it"
        )),
        "{err}"
    );
    assert!(left.is_empty(), "it wrote {left:?} before failing");

    // A data directory that is a file: exit 3, naming it.
    std::fs::write(dir.path().join("notadir"), "x").unwrap();
    let (code, err, _) = serve_refused(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--data-dir", "notadir"],
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("the data directory notadir cannot be used"),
        "{err}"
    );

    // A bad configuration: exit 2, naming the key.
    std::fs::write(dir.path().join("bad.toml"), "listen = \"nowhere\"\n").unwrap();
    let (code, err, _) = serve_refused(dir.path(), &["--config", "bad.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`listen`"), "{err}");
}

/// A data directory this user may not write in: run as `nobody` (root writes anywhere), from a
/// copy of the binary that user can reach.
#[test]
fn serve_names_a_read_only_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = running_as_root();
    let bin = dir.path().join("promptyard");
    std::fs::copy(env!("CARGO_BIN_EXE_promptyard"), &bin).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for (p, mode) in [
        (dir.path(), 0o755),
        (data.as_path(), 0o555),
        (bin.as_path(), 0o755),
    ] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let out = cmd
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .current_dir(dir.path())
        .env_remove("PROMPTYARD_CONFIG")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("this user cannot write in it"), "{err}");
}

/// Whether the tests run as root (uid 0), read from /proc (no libc call needed).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1))
                == Some("0")
        })
        .unwrap_or(false)
}
