//! The integration tests: one binary. Each test spawns its own app on an ephemeral port with a
//! temporary data directory and drives it over HTTP as a browser or script would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Tests talk to the server (and fake upstreams) with their own HTTP clients.
#![allow(clippy::disallowed_methods)]

mod adapters;
mod airgap;
mod analytics;
mod api;
mod audit;
mod auth;
mod backup;
mod chat_surface;
mod chat_templates;
mod cli;
mod clients;
mod community;
mod edge;
mod embeddings;
mod fake_llm;
mod forms;
mod gateway;
mod governance;
mod helpers;
mod history;
mod metrics;
mod oidc;
mod packaging;
mod pages;
mod profiles;
mod routes;
mod search;
mod store_conformance;
mod v1;
