//! `POST /internal/backup`: the running server writes a consistent backup and streams it to
//! `promptyard backup` on the same machine. Only for a loopback client that shows the token the
//! server wrote into its data directory at start (readable by whoever may read the data).

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::backup::{BACKUP, TOKEN_HEADER};
use crate::crypto::{MasterKey, constant_time_eq};
use crate::error::{Error, Result};
use crate::http::extract::Query;
use crate::http::routes::{Permission, Routes};
use crate::store::Store;

/// What the endpoint needs.
#[derive(Clone)]
pub struct BackupState {
    /// The store to snapshot.
    pub store: Arc<dyn Store>,
    /// The data directory (blobs, the token).
    pub data_dir: PathBuf,
    /// The master key, for `?key=1`.
    pub key: MasterKey,
    /// The token a caller must show.
    pub token: String,
    /// The clock's time as RFC 3339, for the manifest.
    pub clock: crate::clock::Clock,
    /// The effective configuration, secrets shown as `***`.
    pub config: String,
}

/// Adds the route.
pub fn routes(r: Routes<BackupState>) -> Routes<BackupState> {
    r.post(BACKUP, Permission::Public, backup)
}

#[derive(Deserialize, Default)]
struct BackupQuery {
    /// `1` puts the master key in the archive.
    #[serde(default)]
    key: u8,
}

async fn backup(
    State(s): State<BackupState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<BackupQuery>,
) -> Result<Response> {
    let sent = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok = peer.ip().to_canonical().is_loopback()
        && constant_time_eq(sent.as_bytes(), s.token.as_bytes());
    if !ok {
        return Err(Error::NotFound);
    }
    let tmp = s
        .data_dir
        .join(format!(".backup-{}.tmp", uuid::Uuid::new_v4().simple()));
    let blobs = s.data_dir.join("blobs");
    let key = (q.key == 1).then(|| s.key.to_base64().into_bytes());
    let created_at = s
        .clock
        .now()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(Error::internal)?;
    let out = tmp.clone();
    let config = s.config.clone();
    s.store
        .with_writes_paused(Box::new(move |db| {
            let file = std::fs::File::create(&out)
                .map_err(|e| Error::internal(format!("cannot write {}: {e}", out.display())))?;
            crate::backup::write_archive(
                std::io::BufWriter::new(file),
                db,
                &blobs,
                key.as_deref(),
                &config,
                created_at,
            )
            .map(|_| ())
        }))
        .await?;
    let file = tokio::fs::File::open(&tmp).await.map_err(Error::internal)?;
    // Open, then unlink: the stream reads it, nothing is left behind.
    let _ = tokio::fs::remove_file(&tmp).await;
    tracing::info!(include_key = q.key == 1, "wrote a backup");
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/gzip")],
        body,
    )
        .into_response())
}
