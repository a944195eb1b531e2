//! Blob storage: uploaded files (profile pictures) by key, over `object_store`. The local file
//! system under the data directory by default; the same interface serves S3 when configured.
//!
//! Infrastructure: it knows the configuration and errors, never the store, search or llm.

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path as BlobPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::{Error, Result};

/// The blob store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
}

fn path(key: &str) -> Result<BlobPath> {
    BlobPath::parse(key).map_err(|e| Error::internal(format!("bad blob key {key}: {e}")))
}

impl Blobs {
    /// Blobs in the directory `dir` (created if missing).
    pub fn local(dir: &std::path::Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::internal(format!(
                "cannot create the blob directory {}: {e}",
                dir.display()
            ))
        })?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| Error::internal(format!("cannot open {}: {e}", dir.display())))?;
        Ok(Self {
            store: Arc::new(store),
        })
    }

    /// Stores `bytes` under `key`, replacing what was there.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&path(key)?, PutPayload::from(bytes))
            .await
            .map_err(|e| Error::internal(format!("cannot store blob {key}: {e}")))?;
        Ok(())
    }

    /// The bytes under `key`, or `NotFound`.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>> {
        let result = match self.store.get(&path(key)?).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Err(Error::NotFound),
            Err(e) => return Err(Error::internal(format!("cannot read blob {key}: {e}"))),
        };
        let bytes = result
            .bytes()
            .await
            .map_err(|e| Error::internal(format!("cannot read blob {key}: {e}")))?;
        Ok(bytes.to_vec())
    }

    /// Removes `key`; a missing blob is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::internal(format!("cannot delete blob {key}: {e}"))),
        }
    }
}
