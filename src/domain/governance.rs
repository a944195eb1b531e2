//! A workspace's gateway governance, set by its admins: how much history is kept, the response
//! cache, monthly budgets, fallback model routes and rate limits; plus the records that back
//! them (monthly spend, cached responses).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{UserId, WorkspaceId};
use crate::error::{Error, Result};

/// How much of a run the history keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    /// Prompt and output with the metadata.
    #[default]
    Full,
    /// Model, tokens, cost, timing and state; no prompt or output text.
    Metadata,
    /// No run is stored (spend still counts against budgets).
    None,
}

impl Retention {
    /// Every mode.
    pub const ALL: [Retention; 3] = [Retention::Full, Retention::Metadata, Retention::None];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Metadata => "metadata",
            Self::None => "none",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                Error::invalid(
                    "retention",
                    format!("unknown retention `{s}`; use full, metadata or none"),
                )
            })
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Full => "Full: prompt, output and metadata",
            Self::Metadata => "Metadata only: no prompt or output text",
            Self::None => "None: runs are not kept",
        }
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Requests and prompt tokens per minute; `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per minute.
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Prompt tokens per minute.
    #[serde(default)]
    pub tokens_per_minute: Option<u32>,
}

/// A workspace's gateway settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    /// How much history is kept.
    #[serde(default)]
    pub retention: Retention,
    /// Runs older than this many days are deleted by the retention job (none: kept).
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// How long cached responses are served, in seconds; 0 turns the cache off.
    #[serde(default)]
    pub cache_ttl_secs: u32,
    /// The workspace's monthly budget in USD.
    #[serde(default)]
    pub budget_usd: Option<f64>,
    /// Each member's monthly budget in this workspace, in USD.
    #[serde(default)]
    pub member_budget_usd: Option<f64>,
    /// Model -> the models tried in order when it fails before answering.
    #[serde(default)]
    pub fallbacks: BTreeMap<String, Vec<String>>,
    /// The whole workspace.
    #[serde(default)]
    pub workspace_limit: RateLimit,
    /// Each member.
    #[serde(default)]
    pub member_limit: RateLimit,
    /// Each API key.
    #[serde(default)]
    pub key_limit: RateLimit,
}

/// Longest cache lifetime: 30 days.
pub const MAX_CACHE_TTL_SECS: u32 = 30 * 24 * 3600;
/// Most fallback routes per workspace, and fallbacks per route.
pub const MAX_ROUTES: usize = 100;
/// Most fallbacks tried for one model.
pub const MAX_FALLBACKS: usize = 3;
/// The longest retention period accepted, in days (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// Largest budget accepted, in USD.
pub const MAX_BUDGET_USD: f64 = 1e9;

fn check_budget(field: &str, v: Option<f64>) -> Result<Option<f64>> {
    match v {
        None => Ok(None),
        Some(b) if b.is_finite() && (0.0..=MAX_BUDGET_USD).contains(&b) => Ok(Some(b)),
        Some(_) => Err(Error::invalid(
            field,
            "a budget is an amount in USD from 0 to 1,000,000,000",
        )),
    }
}

fn check_model_id(field: &str, m: &str) -> Result<String> {
    let m = m.trim();
    if m.is_empty() || m.len() > 200 || m.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(
            field,
            format!("`{m}` is not a model id (1 to 200 characters, no spaces)"),
        ));
    }
    Ok(m.to_owned())
}

fn check_limit(field: &str, l: RateLimit) -> Result<RateLimit> {
    for v in [l.requests_per_minute, l.tokens_per_minute]
        .into_iter()
        .flatten()
    {
        if v == 0 {
            return Err(Error::invalid(
                field,
                "a limit is at least 1 per minute; leave it empty for no limit",
            ));
        }
    }
    Ok(l)
}

impl GatewaySettings {
    /// Checks every value, naming the field at fault; fallback routes are trimmed and
    /// de-duplicated.
    pub fn validate(self) -> Result<Self> {
        if self.cache_ttl_secs > MAX_CACHE_TTL_SECS {
            return Err(Error::invalid(
                "cache_ttl_secs",
                "the cache lifetime is at most 30 days (2592000 s)",
            ));
        }
        if self.cache_ttl_secs > 0 && self.retention != Retention::Full {
            return Err(Error::invalid(
                "cache_ttl_secs",
                "the response cache keeps prompts and outputs, so it needs full retention",
            ));
        }
        if self.fallbacks.len() > MAX_ROUTES {
            return Err(Error::invalid(
                "fallbacks",
                format!("at most {MAX_ROUTES} fallback routes"),
            ));
        }
        let mut fallbacks = BTreeMap::new();
        for (model, list) in self.fallbacks {
            let model = check_model_id("fallbacks", &model)?;
            let mut clean: Vec<String> = Vec::new();
            for m in list {
                let m = check_model_id("fallbacks", &m)?;
                if m != model && !clean.contains(&m) {
                    clean.push(m);
                }
            }
            if clean.len() > MAX_FALLBACKS {
                return Err(Error::invalid(
                    "fallbacks",
                    format!("`{model}` has more than {MAX_FALLBACKS} fallbacks"),
                ));
            }
            if !clean.is_empty() {
                fallbacks.insert(model, clean);
            }
        }
        if let Some(d) = self.retention_days
            && !(1..=MAX_RETENTION_DAYS).contains(&d)
        {
            return Err(Error::invalid(
                "retention_days",
                format!(
                    "keep runs for 1 to {MAX_RETENTION_DAYS} days, or leave it empty to keep them"
                ),
            ));
        }
        Ok(Self {
            retention: self.retention,
            retention_days: self.retention_days,
            cache_ttl_secs: self.cache_ttl_secs,
            budget_usd: check_budget("budget_usd", self.budget_usd)?,
            member_budget_usd: check_budget("member_budget_usd", self.member_budget_usd)?,
            fallbacks,
            workspace_limit: check_limit("workspace_limit", self.workspace_limit)?,
            member_limit: check_limit("member_limit", self.member_limit)?,
            key_limit: check_limit("key_limit", self.key_limit)?,
        })
    }

    /// The models to try for `model`, itself first.
    pub fn models_for(&self, model: &str) -> Vec<String> {
        let mut out = vec![model.to_owned()];
        if let Some(f) = self.fallbacks.get(model) {
            out.extend(f.iter().cloned());
        }
        out
    }

    /// Parses routes written one per line as `model: fallback, fallback`.
    pub fn parse_routes(text: &str) -> Result<BTreeMap<String, Vec<String>>> {
        let mut out = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some((model, rest)) = line.split_once(':') else {
                return Err(Error::invalid(
                    "fallbacks",
                    format!(
                        "line {}: write `model: fallback, fallback` (a colon after the model)",
                        i + 1
                    ),
                ));
            };
            let list: Vec<String> = rest
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            out.insert(model.trim().to_owned(), list);
        }
        Ok(out)
    }

    /// The routes as `parse_routes` reads them.
    pub fn routes_text(&self) -> String {
        self.fallbacks
            .iter()
            .map(|(m, f)| format!("{m}: {}\n", f.join(", ")))
            .collect()
    }
}

/// The calendar month (UTC) spend is counted in, as `YYYY-MM`.
pub fn month_of(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}", t.year(), u8::from(t.month()))
}

/// The first instant of the month after `t`'s (UTC), when monthly budgets start again.
pub fn next_month_start(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    let (y, m) = match t.month() {
        time::Month::December => (t.year() + 1, time::Month::January),
        m => (t.year(), m.next()),
    };
    time::Date::from_calendar_date(y, m, 1)
        .map(|d| d.midnight().assume_utc())
        .unwrap_or(t)
}

/// Cost added to one member's spend in one workspace and month.
#[derive(Clone, Debug, PartialEq)]
pub struct SpendEntry {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The member.
    pub user: UserId,
    /// `YYYY-MM`.
    pub month: String,
    /// USD.
    pub usd: f64,
}

/// A workspace's spend in one month.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MonthSpend {
    /// All members together, USD.
    pub total_usd: f64,
    /// Per member, USD, largest first.
    pub by_user: Vec<(UserId, f64)>,
}

/// A cached answer, found by the hash of the workspace, model and exact request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedResponse {
    /// SHA-256 of the request (see `gateway::cache`).
    #[serde(with = "hex::serde")]
    pub key: [u8; 32],
    /// The workspace it belongs to.
    pub workspace: WorkspaceId,
    /// The model that answered.
    pub model: String,
    /// The answer.
    pub output: String,
    /// Prompt tokens of the original call.
    pub input_tokens: u64,
    /// Output tokens of the original call.
    pub output_tokens: u64,
    /// Why the answer ended.
    pub finish_reason: Option<String>,
    /// When it was stored.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops being served.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        let bad = |s: GatewaySettings| s.validate().unwrap_err().field().map(str::to_owned);
        let base = GatewaySettings::default();
        assert_eq!(
            bad(GatewaySettings {
                budget_usd: Some(-1.0),
                ..base.clone()
            }),
            Some("budget_usd".into())
        );
        assert_eq!(
            bad(GatewaySettings {
                member_budget_usd: Some(f64::NAN),
                ..base.clone()
            }),
            Some("member_budget_usd".into())
        );
        assert_eq!(
            bad(GatewaySettings {
                cache_ttl_secs: 60,
                retention: Retention::Metadata,
                ..base.clone()
            }),
            Some("cache_ttl_secs".into())
        );
        assert_eq!(
            bad(GatewaySettings {
                key_limit: RateLimit {
                    requests_per_minute: Some(0),
                    tokens_per_minute: None
                },
                ..base.clone()
            }),
            Some("key_limit".into())
        );
        let routes = GatewaySettings::parse_routes("gpt-4o: claude, gpt-4o, claude ,llama\n\n")
            .and_then(|f| {
                GatewaySettings {
                    fallbacks: f,
                    ..base.clone()
                }
                .validate()
            })
            .map(|s| s.models_for("gpt-4o"));
        assert_eq!(
            routes.ok(),
            Some(vec!["gpt-4o".into(), "claude".into(), "llama".into()])
        );
        assert!(GatewaySettings::parse_routes("no colon here").is_err());
    }

    #[test]
    fn months() {
        let t = time::macros::datetime!(2026-12-31 23:59 UTC);
        assert_eq!(month_of(t), "2026-12");
        assert_eq!(
            next_month_start(t),
            time::macros::datetime!(2027-01-01 0:00 UTC)
        );
    }
}
