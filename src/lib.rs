//! Promptyard: a self-hosted AI prompt engineering platform in one binary.
//!
//! Module rules (see DESIGN.md): `domain`, `error`, `config` and `clock` import nothing else from
//! the crate; `store`, `blob`, `search` and `llm` are infrastructure; `auth` is a feature and
//! never imports axum or maud; `workspaces`, `templates`, `community` and `profiles` are
//! features like `auth`; `http` is the shared edge; `web` and `api` are the two faces and never import each other;
//! only `app` knows every module.

/// Analytics for team managers, read from the daily roll-ups.
pub mod analytics;
pub mod api;
pub mod app;
pub mod auth;
/// Backup and restore archives.
pub mod backup;
/// Infrastructure: blob storage (profile pictures) over object_store.
pub mod blob;
pub mod cli;
pub mod clock;
/// The community library: moderation, ratings, comments, flags, usage and forks.
pub mod community;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod gateway;
pub mod http;
/// Background work: the search indexer following the change log.
pub mod jobs;
/// Infrastructure: provider adapters, pricing and exact token counting.
pub mod llm;
/// Prometheus metrics, held in the application state.
pub mod metrics;
/// Profiles: profile pictures, validated and re-encoded.
pub mod profiles;
/// Infrastructure: the tantivy search index over runs and community prompts.
pub mod search;
pub mod store;
pub mod templates;
pub mod web;
pub mod workspaces;

pub use app::App;
