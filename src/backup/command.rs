//! `promptyard backup` and `promptyard restore`.
//!
//! A backup is taken in this process when the store is free (server stopped, or Postgres), or
//! asked of the running server over loopback (redb holds its file exclusively), which streams a
//! snapshot taken with its writes paused. A restore fills an empty data directory and opens the
//! store once to check it (running schema upgrades); the search index is rebuilt on start.

use std::io::Write;
use std::path::{Path, PathBuf};

use std::process::ExitCode;

use anyhow::Context;

use super::{BACKUP, TOKEN_FILE, TOKEN_HEADER};
use crate::app::{master_key, master_key_path, storage_url};
use crate::clock::Clock;
use crate::config::Config;
use crate::error::Error;
use crate::store::{self, StorageUrl};

fn now_rfc3339(clock: &Clock) -> String {
    clock
        .now()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Writes a backup to `to` (via `to.partial`, renamed when complete).
pub async fn backup(config: &Config, to: &Path, include_key: bool) -> anyhow::Result<ExitCode> {
    let partial = to.with_extension("partial");
    let url = storage_url(config).map_err(anyhow::Error::new)?;
    if include_key {
        eprintln!(
            "warning: the archive will hold the master key: whoever has it can open every \
             provider key in the backup. Keep it as safe as the key file itself."
        );
    }
    let key = if include_key {
        Some(
            master_key(config)
                .map_err(anyhow::Error::new)?
                .0
                .to_base64()
                .into_bytes(),
        )
    } else {
        None
    };
    let blobs = config.data_dir.join("blobs");
    let effective = config.to_redacted_toml();
    let clock = Clock::system();
    let manifest_note = match &url {
        StorageUrl::Redb(path) => match store::open(&url, clock.clone()).await {
            Ok(store) => {
                let out = partial.clone();
                let created = now_rfc3339(&clock);
                store
                    .with_writes_paused(Box::new(move |db| {
                        let file = std::fs::File::create(&out).map_err(|e| {
                            Error::internal(format!("cannot write {}: {e}", out.display()))
                        })?;
                        crate::backup::write_archive(
                            file,
                            db,
                            &blobs,
                            key.as_deref(),
                            &effective,
                            created,
                        )
                        .map(|_| ())
                    }))
                    .await
                    .map_err(anyhow::Error::new)?;
                format!("from {} (no server was running)", path.display())
            }
            Err(Error::Locked(_)) => {
                from_server(config, &partial, include_key).await?;
                format!("from the running server's {}", path.display())
            }
            Err(e) => return Err(anyhow::Error::new(e)),
        },
        StorageUrl::Postgres(_) => {
            let created = now_rfc3339(&clock);
            let file = std::fs::File::create(&partial)
                .with_context(|| format!("cannot write {}", partial.display()))?;
            crate::backup::write_archive(file, None, &blobs, key.as_deref(), &effective, created)
                .map_err(anyhow::Error::new)?;
            eprintln!(
                "note: with Postgres this archive holds the blobs{}; back the database up with \
                 pg_dump (see the README)",
                if include_key {
                    " and the master key"
                } else {
                    ""
                }
            );
            "of the blobs".to_owned()
        }
    };
    std::fs::rename(&partial, to)
        .with_context(|| format!("cannot move {} to {}", partial.display(), to.display()))?;
    let size = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {} ({:.1} MiB), a consistent snapshot {manifest_note}",
        to.display(),
        size as f64 / 1_048_576.0
    );
    Ok(ExitCode::SUCCESS)
}

/// Asks the server that holds the data file for a snapshot, streamed into `out`.
async fn from_server(config: &Config, out: &Path, include_key: bool) -> anyhow::Result<()> {
    let token_path = config.data_dir.join(TOKEN_FILE);
    let token = std::fs::read_to_string(&token_path).with_context(|| {
        format!(
            "the store is in use by a running server, and its backup token {} cannot be read \
             (run this as the server's user, or as root)",
            token_path.display()
        )
    })?;
    let mut addr: std::net::SocketAddr = config
        .listen
        .parse()
        .with_context(|| format!("`listen` is not an address: {}", config.listen))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    // Our own server on loopback, not a model provider: the outbound policy is not for this.
    #[allow(clippy::disallowed_methods)]
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("cannot build an HTTP client")?;
    let url = format!(
        "http://{addr}{BACKUP}{}",
        if include_key { "?key=1" } else { "" }
    );
    let mut res = client
        .post(&url)
        .header(TOKEN_HEADER, token.trim())
        .send()
        .await
        .with_context(|| format!("cannot reach the running server at {addr}"))?;
    if !res.status().is_success() {
        anyhow::bail!(
            "the server at {addr} refused the backup ({}); is it the one using {}?",
            res.status(),
            config.data_dir.display()
        );
    }
    let mut file =
        std::fs::File::create(out).with_context(|| format!("cannot write {}", out.display()))?;
    while let Some(chunk) = res.chunk().await.context("the backup stream broke off")? {
        file.write_all(&chunk)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    file.sync_all()
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

/// Restores `from` into the configured (empty) data directory.
pub async fn restore(config: &Config, from: &Path) -> anyhow::Result<ExitCode> {
    let url = storage_url(config).map_err(anyhow::Error::new)?;
    let db_file: PathBuf = match &url {
        StorageUrl::Redb(path) => path.clone(),
        // The data file in a Postgres deployment's archive would have nowhere to go; keep it
        // beside the blobs so nothing is lost.
        StorageUrl::Postgres(_) => config.data_dir.join("promptyard.redb"),
    };
    let key_file = master_key_path(config);
    let targets = crate::backup::Targets {
        data_dir: config.data_dir.clone(),
        db_file: db_file.clone(),
        key_file,
    };
    let input =
        std::fs::File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
    let manifest = tokio::task::spawn_blocking(move || {
        crate::backup::restore_archive(std::io::BufReader::new(input), &targets)
    })
    .await?
    .map_err(anyhow::Error::new)?;
    let mut said = format!(
        "restored a backup from {} (Promptyard {}): {} blob(s)",
        manifest.created_at, manifest.version, manifest.blobs
    );
    if manifest.includes_key {
        said.push_str(", the master key");
    }
    if manifest.backend == "redb" && matches!(url, StorageUrl::Redb(_)) {
        let store = store::open(&url, Clock::system())
            .await
            .map_err(anyhow::Error::new)?;
        let users = store.count_users().await.map_err(anyhow::Error::new)?;
        said.push_str(&format!(
            ", the data file {} ({users} account(s))",
            db_file.display()
        ));
    }
    println!("{said}. The search index is rebuilt when the server starts.");
    Ok(ExitCode::SUCCESS)
}
