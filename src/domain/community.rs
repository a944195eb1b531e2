//! The community library: shared prompts, their moderation states and decisions, ratings,
//! comments, flags, and the community standing of users (moderator, trusted, reputation).
//!
//! A prompt's content is a [`TemplateContent`], the same shape a template version has, so
//! "share to community" and "fork into a workspace" copy it without translation. Only
//! `approved` prompts are visible to everyone; every other state is visible to its author and
//! moderators alone ([`CommunityPrompt::visible_to`]).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{RunId, TemplateContent, TemplateId, UserId, has_control_chars};
use crate::error::{Error, Result};

pub use super::ids::{CommentId, CommunityPromptId};

/// Limits on what users write.
pub mod limits {
    /// Most suggested models.
    pub const MODELS: usize = 10;
    /// Longest model name.
    pub const MODEL_CHARS: usize = 200;
    /// Most example outputs.
    pub const EXAMPLES: usize = 5;
    /// Longest example output, in bytes.
    pub const EXAMPLE_BYTES: usize = 32 * 1024;
    /// Longest comment, in characters.
    pub const COMMENT_CHARS: usize = 10_000;
    /// Longest moderation or flag reason, in characters.
    pub const REASON_CHARS: usize = 1_000;
}

/// Where a community prompt is in moderation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptStatus {
    /// Waiting for a moderator.
    Pending,
    /// Public.
    Approved,
    /// Refused, with a reason the author sees.
    Rejected,
    /// Taken down by a moderator after approval.
    Hidden,
    /// Flagged by enough users: hidden and back in the queue until reviewed.
    Flagged,
}

impl PromptStatus {
    /// Every state, in queue order.
    pub const ALL: [PromptStatus; 5] = [
        Self::Pending,
        Self::Flagged,
        Self::Approved,
        Self::Rejected,
        Self::Hidden,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Hidden => "hidden",
            Self::Flagged => "flagged",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| Error::invalid("status", format!("unknown status `{s}`")))
    }

    /// Whether a moderator still has to look at it.
    pub fn in_queue(self) -> bool {
        matches!(self, Self::Pending | Self::Flagged)
    }
}

/// An example of what the prompt produces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// The model that wrote it.
    pub model: String,
    /// The output, as text (rendered as sanitised Markdown).
    pub output: String,
}

/// A shared prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommunityPrompt {
    /// Id.
    pub id: CommunityPromptId,
    /// Who submitted it.
    pub author: UserId,
    /// Title (`content.name`), description, tags, prompts, variables and model defaults.
    pub content: TemplateContent,
    /// Models the author suggests.
    #[serde(default)]
    pub models: Vec<String>,
    /// Example outputs.
    #[serde(default)]
    pub examples: Vec<Example>,
    /// Moderation state.
    pub status: PromptStatus,
    /// The reason given with the last decision (shown to the author).
    #[serde(default)]
    pub status_reason: Option<String>,
    /// The template version it was shared from.
    #[serde(default)]
    pub source_template: Option<(TemplateId, u32)>,
    /// The run it was shared from.
    #[serde(default)]
    pub source_run: Option<RunId>,
    /// Sum of the stars of all ratings.
    #[serde(default)]
    pub rating_sum: u64,
    /// Number of ratings.
    #[serde(default)]
    pub rating_count: u64,
    /// Forks and runs, at most one per user per day.
    #[serde(default)]
    pub usage_count: u64,
    /// Distinct users who flagged it since it was last approved.
    #[serde(default)]
    pub flag_count: u32,
    /// Approved at some point (the author's approval points are given once).
    #[serde(default)]
    pub ever_approved: bool,
    /// Submitted.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change of content or state.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl CommunityPrompt {
    /// The mean rating, if anyone rated it.
    pub fn average(&self) -> Option<f64> {
        (self.rating_count > 0).then(|| self.rating_sum as f64 / self.rating_count as f64)
    }

    /// Whether `viewer` may see it at all: approved prompts are public; the rest belong to
    /// their author and the moderators.
    pub fn visible_to(&self, viewer: Option<&CommunityStanding>) -> bool {
        self.status == PromptStatus::Approved
            || viewer.is_some_and(|v| v.moderator || v.user == self.author)
    }
}

/// What a submission carries before the store gives it an id, times and counters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// Content.
    pub content: TemplateContent,
    /// Suggested models.
    #[serde(default)]
    pub models: Vec<String>,
    /// Example outputs.
    #[serde(default)]
    pub examples: Vec<Example>,
    /// The template version it is shared from.
    #[serde(default)]
    pub source_template: Option<(TemplateId, u32)>,
    /// The run it is shared from.
    #[serde(default)]
    pub source_run: Option<RunId>,
}

impl Submission {
    /// Checks and normalises every field; the error names the field.
    pub fn validated(mut self) -> Result<Self> {
        self.content = self.content.validated()?;
        if self.content.chat.messages.is_empty()
            && self.content.user_prompt_template.trim().is_empty()
        {
            return Err(Error::invalid(
                "user_prompt_template",
                "enter the prompt text",
            ));
        }
        let mut models: Vec<String> = Vec::new();
        for m in &self.models {
            let m = m.trim();
            if m.is_empty() || models.iter().any(|x| x == m) {
                continue;
            }
            if m.chars().count() > limits::MODEL_CHARS || has_control_chars(m, false) {
                return Err(Error::invalid("models", "that is not a model name"));
            }
            models.push(m.to_owned());
        }
        if models.len() > limits::MODELS {
            return Err(Error::invalid(
                "models",
                format!("suggest at most {} models", limits::MODELS),
            ));
        }
        self.models = models;
        self.examples.retain(|e| !e.output.trim().is_empty());
        if self.examples.len() > limits::EXAMPLES {
            return Err(Error::invalid(
                "examples",
                format!("at most {} example outputs", limits::EXAMPLES),
            ));
        }
        for e in &mut self.examples {
            e.model = e.model.trim().to_owned();
            if e.model.chars().count() > limits::MODEL_CHARS || has_control_chars(&e.model, false) {
                return Err(Error::invalid(
                    "examples",
                    "an example names no valid model",
                ));
            }
            if e.output.len() > limits::EXAMPLE_BYTES {
                return Err(Error::invalid(
                    "examples",
                    format!(
                        "an example output has at most {} KiB",
                        limits::EXAMPLE_BYTES / 1024
                    ),
                ));
            }
            if has_control_chars(&e.output, true) {
                return Err(Error::invalid(
                    "examples",
                    "an example output contains control characters",
                ));
            }
        }
        Ok(self)
    }

    /// The stored prompt, in `status`, submitted at `now`.
    pub fn into_prompt(
        self,
        author: UserId,
        status: PromptStatus,
        now: OffsetDateTime,
    ) -> CommunityPrompt {
        CommunityPrompt {
            id: CommunityPromptId::new(),
            author,
            content: self.content,
            models: self.models,
            examples: self.examples,
            status,
            status_reason: None,
            source_template: self.source_template,
            source_run: self.source_run,
            rating_sum: 0,
            rating_count: 0,
            usage_count: 0,
            flag_count: 0,
            ever_approved: status == PromptStatus::Approved,
            created_at: now,
            updated_at: now,
        }
    }
}

/// What a moderation decision (or the system) did to a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionAction {
    /// Submitted and waiting.
    Submitted,
    /// Approved at submission because the author is trusted.
    AutoApproved,
    /// Approved by a moderator.
    Approved,
    /// Rejected by a moderator.
    Rejected,
    /// Hidden by a moderator.
    Hidden,
    /// Hidden by reaching the flag threshold.
    Flagged,
}

impl DecisionAction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::AutoApproved => "auto_approved",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Hidden => "hidden",
            Self::Flagged => "flagged",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Result<Self> {
        [
            Self::Submitted,
            Self::AutoApproved,
            Self::Approved,
            Self::Rejected,
            Self::Hidden,
            Self::Flagged,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
        .ok_or_else(|| Error::invalid("action", format!("unknown action `{s}`")))
    }

    /// The state a prompt is in after this.
    pub fn status(self) -> PromptStatus {
        match self {
            Self::Submitted => PromptStatus::Pending,
            Self::AutoApproved | Self::Approved => PromptStatus::Approved,
            Self::Rejected => PromptStatus::Rejected,
            Self::Hidden => PromptStatus::Hidden,
            Self::Flagged => PromptStatus::Flagged,
        }
    }
}

/// One entry of a prompt's moderation history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The prompt.
    pub prompt: CommunityPromptId,
    /// The moderator; `None` when the system decided (submission, trust, flags).
    pub moderator: Option<UserId>,
    /// What happened.
    pub action: DecisionAction,
    /// Why (required for rejections and hiding).
    #[serde(default)]
    pub reason: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The reason recorded when `flags` flags hide a prompt.
pub fn flagged_reason(flags: u32) -> String {
    format!("hidden after {flags} users flagged it; a moderator will review it")
}

/// A user's standing in the community.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityStanding {
    /// The user.
    pub user: UserId,
    /// May moderate (instance admins always may).
    pub moderator: bool,
    /// Marked trusted by an admin: submissions are approved at once.
    pub trusted: bool,
    /// Earned by approved prompts, ratings and forks; lost by rejections.
    pub reputation: i64,
}

impl CommunityStanding {
    /// The standing of a user with no community record yet.
    pub fn new(user: UserId) -> Self {
        Self {
            user,
            moderator: false,
            trusted: false,
            reputation: 0,
        }
    }
}

/// Reputation rules: what each event is worth to the author.
pub mod reputation {
    use super::DecisionAction;

    /// Points for a prompt approved (by a moderator or by trust).
    pub const APPROVED: i64 = 10;
    /// Points lost for a rejected prompt.
    pub const REJECTED: i64 = -5;
    /// Points per fork of one of their prompts.
    pub const FORKED: i64 = 2;

    /// What a moderation action is worth to the author, given the state before it (approval
    /// points are given once, and taken back only by a rejection of an approved prompt).
    pub fn for_decision(action: DecisionAction, was_ever_approved: bool) -> i64 {
        match action {
            DecisionAction::AutoApproved | DecisionAction::Approved if !was_ever_approved => {
                APPROVED
            }
            DecisionAction::Rejected => REJECTED,
            _ => 0,
        }
    }

    /// What a rating of `stars` is worth: +2 for five stars down to -2 for one.
    pub fn for_rating(stars: u8) -> i64 {
        i64::from(stars) - 3
    }
}

/// A comment on a prompt, in Markdown (sanitised when shown).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// Id.
    pub id: CommentId,
    /// The prompt.
    pub prompt: CommunityPromptId,
    /// Who wrote it.
    pub author: UserId,
    /// The Markdown source.
    pub body: String,
    /// Written.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last edited.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub edited_at: Option<OffsetDateTime>,
}

/// One user's flag on a prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    /// The prompt.
    pub prompt: CommunityPromptId,
    /// Who flagged it.
    pub user: UserId,
    /// Why.
    pub reason: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Checks a comment's Markdown source.
pub fn validate_comment(body: &str) -> Result<String> {
    let body = body.trim();
    if body.is_empty() {
        return Err(Error::invalid("body", "write a comment first"));
    }
    if body.chars().count() > limits::COMMENT_CHARS {
        return Err(Error::invalid(
            "body",
            format!("a comment has at most {} characters", limits::COMMENT_CHARS),
        ));
    }
    if has_control_chars(body, true) {
        return Err(Error::invalid(
            "body",
            "the comment contains control characters",
        ));
    }
    Ok(body.to_owned())
}

/// Checks a moderation or flag reason; `required` refuses an empty one.
pub fn validate_reason(reason: &str, required: bool) -> Result<String> {
    let r = reason.trim();
    if required && r.is_empty() {
        return Err(Error::invalid(
            "reason",
            "give a reason; the author will see it",
        ));
    }
    if r.chars().count() > limits::REASON_CHARS {
        return Err(Error::invalid(
            "reason",
            format!("a reason has at most {} characters", limits::REASON_CHARS),
        ));
    }
    if has_control_chars(r, true) {
        return Err(Error::invalid(
            "reason",
            "the reason contains control characters",
        ));
    }
    Ok(r.to_owned())
}

/// Checks a star rating.
pub fn validate_stars(stars: u8) -> Result<u8> {
    if (1..=5).contains(&stars) {
        Ok(stars)
    } else {
        Err(Error::invalid("stars", "a rating is 1 to 5 stars"))
    }
}

/// How a list of prompts is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Highest average first (ties: more ratings, then newer).
    Top,
    /// Most used first.
    Used,
    /// Newest first.
    #[default]
    New,
}

/// Which prompts to list, as whom.
#[derive(Clone, Debug, Default)]
pub struct CommunityQuery {
    /// Who is looking (decides what non-approved prompts are included).
    pub viewer: Option<CommunityStanding>,
    /// Only these states (empty: every state the viewer may see).
    pub statuses: Vec<PromptStatus>,
    /// Only this author's.
    pub author: Option<UserId>,
    /// Only prompts with this tag.
    pub tag: Option<String>,
    /// Only prompts suggesting this model.
    pub model: Option<String>,
    /// Order.
    pub sort: Sort,
    /// Items to skip.
    pub offset: usize,
    /// Items to return.
    pub limit: usize,
}

impl CommunityQuery {
    /// Whether `p` belongs in the result (visibility first, then the filters).
    pub fn matches(&self, p: &CommunityPrompt) -> bool {
        p.visible_to(self.viewer.as_ref())
            && (self.statuses.is_empty() || self.statuses.contains(&p.status))
            && self.author.is_none_or(|a| a == p.author)
            && self
                .tag
                .as_ref()
                .is_none_or(|t| p.content.tags.iter().any(|x| x == t))
            && self
                .model
                .as_ref()
                .is_none_or(|m| p.models.iter().any(|x| x == m))
    }

    /// Orders prompts as asked (stable, so equal keys keep id order: newest first).
    pub fn sort(&self, items: &mut [CommunityPrompt]) {
        items.sort_by_key(|p| std::cmp::Reverse(p.id));
        match self.sort {
            Sort::New => {}
            Sort::Used => items.sort_by_key(|p| std::cmp::Reverse(p.usage_count)),
            Sort::Top => items.sort_by(|a, b| {
                let (x, y) = (a.average().unwrap_or(0.0), b.average().unwrap_or(0.0));
                y.total_cmp(&x).then(b.rating_count.cmp(&a.rating_count))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submission() -> Submission {
        Submission {
            content: TemplateContent {
                name: " Summarise ".into(),
                user_prompt_template: "Summarise {{text}}".into(),
                ..TemplateContent::default()
            },
            models: vec!["gpt-4o".into(), " gpt-4o ".into(), "".into()],
            examples: vec![Example {
                model: "gpt-4o".into(),
                output: "A summary.".into(),
            }],
            source_template: None,
            source_run: None,
        }
    }

    #[test]
    fn submissions_are_normalised_and_checked() {
        let s = submission().validated().unwrap();
        assert_eq!(s.content.name, "Summarise");
        assert_eq!(s.models, vec!["gpt-4o"]);
        let mut bad = submission();
        bad.content.user_prompt_template = "  ".into();
        assert!(bad.validated().unwrap_err().to_string().contains("prompt"));
        let mut bad = submission();
        bad.examples = (0..6)
            .map(|i| Example {
                model: "m".into(),
                output: format!("out {i}"),
            })
            .collect();
        assert!(bad.validated().is_err());
    }

    #[test]
    fn only_approved_prompts_are_public() {
        let author = UserId::new();
        let mut p =
            submission().into_prompt(author, PromptStatus::Pending, OffsetDateTime::UNIX_EPOCH);
        let other = CommunityStanding::new(UserId::new());
        let mut moderator = CommunityStanding::new(UserId::new());
        moderator.moderator = true;
        for status in PromptStatus::ALL {
            p.status = status;
            let public = status == PromptStatus::Approved;
            assert_eq!(p.visible_to(None), public);
            assert_eq!(p.visible_to(Some(&other)), public);
            assert!(p.visible_to(Some(&CommunityStanding::new(author))));
            assert!(p.visible_to(Some(&moderator)));
        }
    }

    #[test]
    fn reputation_rules() {
        assert_eq!(
            reputation::for_decision(DecisionAction::Approved, false),
            10
        );
        assert_eq!(reputation::for_decision(DecisionAction::Approved, true), 0);
        assert_eq!(reputation::for_decision(DecisionAction::Rejected, true), -5);
        assert_eq!(reputation::for_rating(5), 2);
        assert_eq!(reputation::for_rating(1), -2);
        assert!(validate_stars(0).is_err() && validate_stars(6).is_err());
    }
}
