//! Static assets embedded in the binary and served at content-hashed URLs
//! (`/assets/app.3f9a0c1b2d4e.css`) with immutable caching, so a new build never meets a stale
//! cached file. ES modules that import each other by relative path (the context builder and the
//! vendored tokenizer) are served under one prefix hashed over every embedded file
//! (`/assets/m/5be0c2a91f3d/context/worker.js`), so their imports resolve within one build.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// Logical name -> hashed name, and the reverse, computed once from the embedded files.
struct Manifest {
    hashed: HashMap<String, String>,
    logical: HashMap<String, String>,
    /// A hash over every embedded file, naming the module tree of this build.
    tree: String,
}

static MANIFEST: LazyLock<Manifest> = LazyLock::new(|| {
    let mut hashed = HashMap::new();
    let mut logical = HashMap::new();
    let mut names: Vec<_> = Assets::iter().collect();
    names.sort();
    let mut tree = Sha256::new();
    for name in names {
        let Some(file) = Assets::get(&name) else {
            continue;
        };
        let digest = hex::encode(Sha256::digest(&file.data));
        tree.update(name.as_bytes());
        tree.update(digest.as_bytes());
        let short = &digest[..12];
        let with_hash = match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.{short}.{ext}"),
            None => format!("{name}.{short}"),
        };
        hashed.insert(name.to_string(), with_hash.clone());
        logical.insert(with_hash, name.to_string());
    }
    Manifest {
        hashed,
        logical,
        tree: hex::encode(tree.finalize())[..12].to_owned(),
    }
});

/// The URL of an embedded ES module inside this build's module tree, e.g.
/// `module_url("context/worker.js")`.
pub fn module_url(name: &str) -> String {
    format!("/assets/m/{}/{name}", MANIFEST.tree)
}

/// The URL of an embedded asset, e.g. `asset_url("app.css")`.
pub fn asset_url(name: &str) -> String {
    match MANIFEST.hashed.get(name) {
        Some(h) => format!("/assets/{h}"),
        None => format!("/assets/{name}"),
    }
}

/// The `<head>` every page shares: charset, viewport, colour schemes, title, stylesheet, icon.
pub fn head(title: &str, theme: crate::http::cookies::Theme) -> maud::Markup {
    use crate::http::cookies::Theme;
    let scheme = match theme {
        Theme::System => "light dark",
        Theme::Light => "light",
        Theme::Dark => "dark",
    };
    maud::html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content=(scheme);
            title { (title) " · Promptyard" }
            link rel="stylesheet" href=(asset_url("app.css"));
            link rel="icon" href=(asset_url("favicon.svg")) type="image/svg+xml";
        }
    }
}

/// Serves `/assets/{file}`; only hashed names are served, with a year of immutable caching.
pub async fn serve_asset(Path(file): Path<String>) -> Response {
    match MANIFEST.logical.get(&file) {
        Some(logical) => serve(logical),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Serves `/assets/m/{tree}/{*path}`: a file of this build's module tree (another build's tree
/// is not found, so a cached page never mixes builds).
pub async fn serve_module(Path((tree, path)): Path<(String, String)>) -> Response {
    if tree != MANIFEST.tree || path.split(['/', '\\']).any(|part| part == "..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    serve(&path)
}

fn serve(logical: &str) -> Response {
    let Some(data) = Assets::get(logical) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = mime_guess::from_path(logical).first_or_octet_stream();
    let content_type = HeaderValue::from_str(mime.as_ref())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        data.data.into_owned(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_share_one_hashed_prefix() {
        let url = module_url("context/worker.js");
        assert!(url.starts_with("/assets/m/") && url.ends_with("/context/worker.js"));
        assert_eq!(
            url.len(),
            "/assets/m/".len() + 12 + "/context/worker.js".len()
        );
    }

    #[test]
    fn stylesheet_has_a_hashed_url() {
        let url = asset_url("app.css");
        assert!(
            url.starts_with("/assets/app.") && url.ends_with(".css") && url.len() > 25,
            "{url}"
        );
    }
}
