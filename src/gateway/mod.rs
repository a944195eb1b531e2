//! The gateway: provider connections and (next) the pipeline that routes a chat request to a
//! connection, calls the provider through `llm`, and records the run. It joins `store` to
//! `llm` and never imports axum or maud.

pub mod providers;

pub use providers::{ConnectionInput, Providers};
