//! Backup and restore: one gzipped tar holding a consistent snapshot of the embedded store, the
//! blobs (profile pictures), a manifest, and the master key only when asked.
//!
//! Consistency: the snapshot is taken while the store's single writer is held (a redb write
//! transaction that is never committed), so no commit lands between copying the data file and
//! copying the blobs; every write acknowledged before the snapshot is in it, and the file is one
//! committed state of the database. Writers wait for the copy (runs queue in the recorder).
//! With Postgres the database is backed up with `pg_dump`; the archive then holds the blobs.
//!
//! The archive also holds the effective configuration at backup time, secrets shown as `***`,
//! for reference. The search index is not in it: a restored server rebuilds it on start.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod command;

/// The running server's backup endpoint (loopback only, with the token).
pub const BACKUP: &str = "/internal/backup";
/// The header carrying the token.
pub const TOKEN_HEADER: &str = "x-promptyard-backup-token";
/// The token's file name in the data directory.
pub const TOKEN_FILE: &str = ".backup-token";

/// Writes a fresh random token to the data directory (mode 0600) and returns it; the server
/// does this at start, and `promptyard backup` shows it to ask the server for a snapshot.
pub fn write_token(data_dir: &Path) -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(e.to_string()))?;
    let token = hex::encode(bytes);
    let path = data_dir.join(TOKEN_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))?;
    file.write_all(token.as_bytes())
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))?;
    Ok(token)
}

/// Name of the data file inside the archive.
const DB_ENTRY: &str = "promptyard.redb";
/// Prefix of the blobs inside the archive.
const BLOBS_ENTRY: &str = "blobs";
/// Name of the master key inside the archive, when included.
const KEY_ENTRY: &str = "promptyard.key";
/// Name of the manifest inside the archive.
const MANIFEST_ENTRY: &str = "manifest.json";
/// The effective configuration at backup time, secrets shown as `***`, for reference.
const CONFIG_ENTRY: &str = "promptyard.effective.toml";

/// What an archive holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// The Promptyard version that wrote it.
    pub version: String,
    /// When, RFC 3339.
    pub created_at: String,
    /// `redb` (the data file is inside) or `postgres` (only blobs; the database is pg_dump's).
    pub backend: String,
    /// Blob files inside.
    pub blobs: u64,
    /// Whether the master key is inside.
    pub includes_key: bool,
}

fn io(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("{what}: {e}"))
}

/// Writes the archive to `out` (blocking; call it while writes are paused): the data file at
/// `db_file` (redb) if any, every file under `blobs_dir`, the key at `key` if given.
pub fn write_archive(
    out: impl Write,
    db_file: Option<&Path>,
    blobs_dir: &Path,
    key: Option<&[u8]>,
    config: &str,
    created_at: String,
) -> Result<Manifest> {
    let mut tar = tar::Builder::new(GzEncoder::new(out, Compression::fast()));
    tar.mode(tar::HeaderMode::Deterministic);
    if let Some(db) = db_file {
        tar.append_path_with_name(db, DB_ENTRY)
            .map_err(|e| io(&format!("cannot add {}", db.display()), e))?;
    }
    let mut blobs = 0;
    if blobs_dir.is_dir() {
        let mut stack = vec![blobs_dir.to_owned()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| io(&format!("cannot read {}", dir.display()), e))?;
            let mut paths: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                if path.is_dir() {
                    stack.push(path);
                } else if path.is_file() {
                    let rel = path
                        .strip_prefix(blobs_dir)
                        .map_err(|e| io("blob path", e))?;
                    tar.append_path_with_name(&path, Path::new(BLOBS_ENTRY).join(rel))
                        .map_err(|e| io(&format!("cannot add {}", path.display()), e))?;
                    blobs += 1;
                }
            }
        }
    }
    if let Some(key) = key {
        let mut header = tar::Header::new_gnu();
        header.set_size(key.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        tar.append_data(&mut header, KEY_ENTRY, key)
            .map_err(|e| io("cannot add the master key", e))?;
    }
    let mut header = tar::Header::new_gnu();
    header.set_size(config.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, CONFIG_ENTRY, config.as_bytes())
        .map_err(|e| io("cannot add the configuration", e))?;
    let manifest = Manifest {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at,
        backend: if db_file.is_some() {
            "redb"
        } else {
            "postgres"
        }
        .to_owned(),
        blobs,
        includes_key: key.is_some(),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(Error::internal)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST_ENTRY, json.as_slice())
        .map_err(|e| io("cannot add the manifest", e))?;
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .and_then(|mut w| w.flush())
        .map_err(|e| io("cannot finish the archive", e))?;
    Ok(manifest)
}

/// Where a restore puts things.
#[derive(Clone, Debug)]
pub struct Targets {
    /// The data directory (must be empty or missing).
    pub data_dir: PathBuf,
    /// Where the data file goes.
    pub db_file: PathBuf,
    /// Where the key goes, if the archive has one.
    pub key_file: PathBuf,
}

/// Restores `input` into `targets` (blocking). Refuses a data directory that holds anything,
/// and entries that would land outside it.
pub fn restore_archive(input: impl Read, targets: &Targets) -> Result<Manifest> {
    let dir = &targets.data_dir;
    if dir.exists() {
        let busy = std::fs::read_dir(dir)
            .map_err(|e| io(&format!("cannot read {}", dir.display()), e))?
            .next()
            .is_some();
        if busy {
            return Err(Error::invalid(
                "data_dir",
                format!(
                    "{} is not empty; restore into an empty data directory",
                    dir.display()
                ),
            ));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| io(&format!("cannot create {}", dir.display()), e))?;
    let mut archive = tar::Archive::new(GzDecoder::new(input));
    let mut manifest = None;
    let entries = archive
        .entries()
        .map_err(|e| Error::invalid("from", format!("not a Promptyard backup: {e}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| Error::invalid("from", format!("the archive is damaged: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| Error::invalid("from", format!("a bad name in the archive: {e}")))?
            .into_owned();
        if name
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(Error::invalid(
                "from",
                format!(
                    "the archive names a path outside the data directory: {}",
                    name.display()
                ),
            ));
        }
        let target = if name == Path::new(MANIFEST_ENTRY) {
            let mut json = Vec::new();
            entry
                .read_to_end(&mut json)
                .map_err(|e| io("cannot read the manifest", e))?;
            manifest = Some(
                serde_json::from_slice::<Manifest>(&json)
                    .map_err(|e| Error::invalid("from", format!("a bad manifest: {e}")))?,
            );
            continue;
        } else if name == Path::new(CONFIG_ENTRY) {
            // Kept beside the data for reference; the server reads its own configuration file.
            dir.join(CONFIG_ENTRY)
        } else if name == Path::new(DB_ENTRY) {
            targets.db_file.clone()
        } else if name == Path::new(KEY_ENTRY) {
            if targets.key_file.exists() {
                return Err(Error::invalid(
                    "from",
                    format!(
                        "the archive holds a master key, and {} exists already; move it away \
                         first",
                        targets.key_file.display()
                    ),
                ));
            }
            targets.key_file.clone()
        } else if name.starts_with(BLOBS_ENTRY) {
            dir.join(&name)
        } else {
            return Err(Error::invalid(
                "from",
                format!("not a Promptyard backup: unexpected {}", name.display()),
            ));
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| io(&format!("cannot create {}", parent.display()), e))?;
        }
        let mut file = File::create(&target)
            .map_err(|e| io(&format!("cannot write {}", target.display()), e))?;
        std::io::copy(&mut entry, &mut file)
            .map_err(|e| io(&format!("cannot write {}", target.display()), e))?;
        file.sync_all()
            .map_err(|e| io(&format!("cannot write {}", target.display()), e))?;
        if name == Path::new(KEY_ENTRY) {
            set_private(&target)?;
        }
    }
    manifest.ok_or_else(|| Error::invalid("from", "not a Promptyard backup: no manifest"))
}

#[cfg(unix)]
fn set_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io(&format!("cannot protect {}", path.display()), e))
}

#[cfg(not(unix))]
fn set_private(_: &Path) -> Result<()> {
    Ok(())
}
