//! Provider adapters, stream parsing, pricing, token counting and the outbound client;
//! infrastructure: it uses domain, error, config and clock, never store, search or blob.

pub mod adapters;
pub mod chat;
pub mod embeddings;
pub mod estimate;
pub mod outbound;
pub mod pricing;
pub mod tokens;
