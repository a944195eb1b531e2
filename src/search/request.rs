//! What a search asks (scope, viewer, order, page) and what it answers.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::query::Parsed;
use super::{Counts, Kind};

/// What is searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Runs.
    History,
    /// Community prompts.
    Community,
}

/// The order of results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchSort {
    /// Best match first.
    #[default]
    Relevance,
    /// Newest first.
    Newest,
    /// Highest rated first (community).
    Rating,
    /// Most used first (community).
    Usage,
}

/// Who searches.
#[derive(Clone, Debug, Default)]
pub struct Viewer {
    /// Their user id.
    pub user: String,
    /// Their workspaces' ids.
    pub workspaces: Vec<String>,
    /// Whether they moderate the community.
    pub moderator: bool,
}

/// A search.
#[derive(Clone, Debug)]
pub struct SearchRequest {
    /// What is searched.
    pub scope: Scope,
    /// The parsed query.
    pub parsed: Parsed,
    /// Who searches.
    pub viewer: Viewer,
    /// Order.
    pub sort: SearchSort,
    /// Results to skip.
    pub offset: usize,
    /// Results to return (1 to 100).
    pub limit: usize,
    /// Exact filters from the history page's controls.
    pub filters: HistoryFilters,
}

/// Exact filters on runs (by id, not by words), each within what the viewer may see.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistoryFilters {
    /// Only this workspace's runs.
    pub workspace: Option<String>,
    /// Only this user's runs (user id).
    pub user: Option<String>,
    /// Only runs of this template (template id).
    pub template: Option<String>,
    /// Only runs costing at least this much, USD.
    pub min_cost: Option<f64>,
    /// Only runs costing at most this much, USD.
    pub max_cost: Option<f64>,
}

/// One result.
#[derive(Clone, Debug, Serialize)]
pub struct Hit {
    /// The record's id.
    pub id: String,
    /// Its kind.
    pub kind: Kind,
    /// A run's workspace.
    pub workspace: Option<String>,
    /// Its title.
    pub title: String,
    /// Who made it.
    pub user: String,
    /// A piece of its text with the matching words in `<b>`, HTML-escaped.
    pub snippet_html: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Models.
    pub models: Vec<String>,
    /// State or status.
    pub state: String,
    /// When.
    #[serde(with = "time::serde::rfc3339::option")]
    pub time: Option<OffsetDateTime>,
    /// Mean rating.
    pub rating: f64,
    /// Uses.
    pub usage: u64,
    /// Cost in USD.
    pub cost: f64,
    /// A run's template name.
    pub template: String,
    /// A run's input tokens.
    pub input_tokens: u64,
    /// A run's output tokens.
    pub output_tokens: u64,
    /// A run's latency, ms.
    pub latency_ms: u64,
}

/// A page of results with counts.
#[derive(Clone, Debug, Serialize)]
pub struct SearchResults {
    /// This page.
    pub hits: Vec<Hit>,
    /// All matches.
    pub total: u64,
    /// Matches per tag (most first).
    pub tags: Counts,
    /// Matches per model (most first).
    pub models: Counts,
}
