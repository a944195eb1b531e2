//! The gateway: provider connections, the pipeline that routes a chat request to a
//! connection, calls the provider through `llm` and streams the answer, and the recorder that
//! writes every run. It joins `store` to
//! `llm` and never imports axum or maud.

mod answer;
pub mod budgets;
mod embed;
pub mod limits;
mod open;
pub mod pipeline;
pub mod providers;
pub mod recorder;

pub use embed::{EmbedRequest, Embeddings};
pub use pipeline::{Admission, Gateway, RunEvent, RunRequest, RunSummary};
pub use providers::{ConnectionInput, Providers};
pub use recorder::Recorder;
