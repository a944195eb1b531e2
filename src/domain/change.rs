//! The change log: every write that changes something searchable appends `(seq, kind, id)` in
//! the same transaction, and the search indexer tails it.

use serde::{Deserialize, Serialize};

/// What kind of record changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A user account (names appear in search results).
    User,
    /// A workspace.
    Workspace,
    /// A template (any version or label change).
    Template,
    /// A run.
    Run,
    /// A community prompt (content, state, ratings or usage).
    CommunityPrompt,
}

impl ChangeKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Workspace => "workspace",
            Self::Template => "template",
            Self::Run => "run",
            Self::CommunityPrompt => "community_prompt",
        }
    }

    /// Parses the stored name; `None` for a kind this build does not know.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "workspace" => Some(Self::Workspace),
            "template" => Some(Self::Template),
            "run" => Some(Self::Run),
            "community_prompt" => Some(Self::CommunityPrompt),
            _ => None,
        }
    }
}

/// One entry of the change log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Strictly increasing position in the log.
    pub seq: u64,
    /// Kind of record.
    pub kind: ChangeKind,
    /// The record's id.
    pub id: String,
}
