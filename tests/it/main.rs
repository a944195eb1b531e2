//! The integration tests: one binary. Each test spawns its own app on an ephemeral port with a
//! temporary data directory and drives it over HTTP as a browser or script would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod auth;
mod cli;
mod edge;
mod forms;
mod helpers;
mod pages;
mod routes;
mod store_conformance;
