//! Chooses and opens a backend from `storage.url`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Store;
use super::postgres::PostgresStore;
use super::redb::RedbStore;
use crate::clock::Clock;
use crate::error::{Error, Result};

/// Where the data lives, parsed from `storage.url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageUrl {
    /// An embedded redb file.
    Redb(PathBuf),
    /// A Postgres connection URL (kept whole; it may hold a password).
    Postgres(String),
}

impl StorageUrl {
    /// Parses `redb://PATH`, `postgres://...` / `postgresql://...`, or a bare file path.
    /// A relative redb path is taken relative to the working directory.
    pub fn parse(raw: &str) -> Result<Self> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(Error::invalid("storage.url", "storage.url is empty"));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        if let Some(path) = raw.strip_prefix("redb://") {
            if path.is_empty() {
                return Err(Error::invalid("storage.url", "redb:// needs a file path"));
            }
            return Ok(Self::Redb(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = raw.split_once("://") {
            return Err(Error::invalid(
                "storage.url",
                format!("unsupported storage scheme `{scheme}`; use redb:// or postgres://"),
            ));
        }
        Ok(Self::Redb(PathBuf::from(raw)))
    }

    /// The default: `promptyard.redb` in the data directory.
    pub fn default_for(data_dir: &Path) -> Self {
        Self::Redb(data_dir.join("promptyard.redb"))
    }
}

/// Opens the store at `url`: the redb file (created on first use) or the Postgres database
/// (migrations run at connect).
pub async fn open(url: &StorageUrl, clock: Clock) -> Result<Arc<dyn Store>> {
    match url {
        StorageUrl::Redb(path) => {
            let path = path.clone();
            let store = tokio::task::spawn_blocking(move || RedbStore::open(&path, clock))
                .await
                .map_err(Error::internal)??;
            Ok(Arc::new(store))
        }
        StorageUrl::Postgres(url) => Ok(Arc::new(PostgresStore::connect(url, clock).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(
            StorageUrl::parse("redb://./data/x.redb").ok(),
            Some(StorageUrl::Redb("./data/x.redb".into()))
        );
        assert_eq!(
            StorageUrl::parse("/var/lib/p.redb").ok(),
            Some(StorageUrl::Redb("/var/lib/p.redb".into()))
        );
        assert!(matches!(
            StorageUrl::parse("postgresql://u@h/db"),
            Ok(StorageUrl::Postgres(_))
        ));
        assert!(StorageUrl::parse("mysql://h/db").is_err());
        assert!(StorageUrl::parse(" ").is_err());
    }
}
