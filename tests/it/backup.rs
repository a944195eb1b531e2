//! Backup while the server runs and writes, then restore: every run acknowledged before the
//! backup started is in the restored store, the restored store is one consistent state (the
//! analytics roll-ups add up to its runs), uploaded files come along, and a restore refuses a
//! data directory that holds anything.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use promptyard::clock::Clock;
use promptyard::domain::{ALL_WORKSPACES, RunId, UsageDim};
use promptyard::store::Store;
use promptyard::store::redb::RedbStore;

use crate::helpers::{ADMIN_EMAIL, TestApp, run_fixture};

fn promptyard(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_promptyard"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PROMPTYARD_")) {
        cmd.env_remove(k);
    }
    cmd.args(args).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_writing_restores_everything_acknowledged_before_it() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let user = app.user_id(ADMIN_EMAIL).await;
    let ws = app.first_workspace(&admin).await;
    // An uploaded file, so the archive has a blob to carry.
    let png = {
        let img =
            image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 9]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let form = reqwest::multipart::Form::new().part(
        "avatar",
        reqwest::multipart::Part::bytes(png).file_name("me.png"),
    );
    let res = admin
        .post(app.url("/account/avatar"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let avatar = app.store.get_user(user).await.unwrap().avatar.unwrap();

    // A writer that records runs one transaction at a time until told to stop.
    let acked: Arc<Mutex<Vec<RunId>>> = Arc::default();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let writer = {
        let store = app.store.clone();
        let acked = acked.clone();
        tokio::spawn(async move {
            while !*stop_rx.borrow_and_update() {
                let run = run_fixture(ws, user);
                let id = run.id;
                store.create_runs(vec![run], Vec::new()).await.unwrap();
                acked.lock().unwrap().push(id);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before: Vec<RunId> = acked.lock().unwrap().clone();
    assert!(
        before.len() > 5,
        "the writer wrote only {} runs",
        before.len()
    );

    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("backup.tar.gz");
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let data = app.data_dir.to_string_lossy().into_owned();
    let archive_arg = archive.to_string_lossy().into_owned();
    let out = tokio::task::spawn_blocking(move || {
        promptyard(&[
            "backup",
            "--to",
            &archive_arg,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            &data,
        ])
    })
    .await
    .unwrap();
    let during = acked.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop_tx.send(true).unwrap();
    writer.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("from the running server"), "{stdout}");
    assert!(during > before.len(), "writes went on during the backup");
    let after = acked.lock().unwrap().len();

    // Restore into an empty directory, as another server would start from it.
    let restored = dir.path().join("restored");
    let out = promptyard(&[
        "restore",
        "--from",
        &archive.to_string_lossy(),
        "--data-dir",
        &restored.to_string_lossy(),
    ]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("1 blob(s)") && said.contains("1 account(s)"),
        "{said}"
    );
    assert!(
        restored.join("blobs").join(&avatar).is_file(),
        "the picture came along"
    );
    assert!(
        !restored.join("index").exists(),
        "the index is rebuilt, not restored"
    );
    let effective = std::fs::read_to_string(restored.join("promptyard.effective.toml")).unwrap();
    assert!(effective.contains("[outbound]"), "{effective}");

    let db = restored.join("promptyard.redb");
    let store: Arc<dyn Store> = Arc::new(
        tokio::task::spawn_blocking(move || RedbStore::open(&db, Clock::system()))
            .await
            .unwrap()
            .unwrap(),
    );
    for id in &before {
        assert!(
            store.get_run(*id).await.is_ok(),
            "run {id}, acknowledged before the backup, is missing"
        );
    }
    // One consistent state: the roll-ups (written in the runs' transactions) count exactly the
    // runs that are there, and those are a prefix of what the writer acknowledged.
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_runs(ws, cursor, 200).await.unwrap();
        ids.extend(page.items.iter().map(|r| r.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let today = Clock::system().now().date();
    let rolled: u64 = store
        .usage(
            ALL_WORKSPACES,
            UsageDim::Total,
            today - time::Duration::days(1),
            today,
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.counts.runs)
        .sum();
    assert_eq!(rolled, ids.len() as u64, "roll-ups and runs disagree");
    let all = acked.lock().unwrap().clone();
    ids.sort();
    let expected: Vec<RunId> = {
        let mut prefix = all[..ids.len()].to_vec();
        prefix.sort();
        prefix
    };
    assert_eq!(ids, expected, "the snapshot is not a prefix of the writes");
    assert!(ids.len() >= before.len() && ids.len() <= after);

    // A data directory that holds anything is refused, and left as it was.
    let out = promptyard(&[
        "restore",
        "--from",
        &archive.to_string_lossy(),
        "--data-dir",
        &restored.to_string_lossy(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));
    app.stop().await;
}
