//! Analytics for team managers: a dashboard of runs, tokens, cost, errors and latency over a
//! range of days, read from the daily roll-ups (never from the runs themselves), for one
//! workspace or for every workspace. A feature like `auth`: it never imports axum or maud.

use std::collections::{BTreeMap, HashMap};

use time::{Date, Duration};

use crate::domain::usage::percentile;
use crate::domain::{TemplateId, UsageCounts, UsageDim, UserId, WorkspaceId};
use crate::error::{Error, Result};
use crate::store::Store;

/// The longest range a dashboard covers, in days.
pub const MAX_DAYS: i64 = 731;

/// One named row of a breakdown (a model, user or template).
#[derive(Clone, Debug, PartialEq)]
pub struct Breakdown {
    /// The stored key (model id, user id, template id or empty).
    pub key: String,
    /// What people read: the model, the user's name, the template's name.
    pub label: String,
    /// The sums over the range.
    pub counts: UsageCounts,
}

/// A model's row: its sums and latency percentiles.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRow {
    /// The model and its sums.
    pub row: Breakdown,
    /// Median latency (upper bound of its histogram bucket), ms.
    pub p50_ms: Option<u64>,
    /// 95th percentile latency, ms.
    pub p95_ms: Option<u64>,
}

/// Everything the analytics page shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
    /// First day (UTC).
    pub from: Date,
    /// Last day (UTC), inclusive.
    pub to: Date,
    /// Every day of the range, zero where nothing ran.
    pub days: Vec<(Date, UsageCounts)>,
    /// Sums over the range.
    pub totals: UsageCounts,
    /// By model, most runs first.
    pub models: Vec<ModelRow>,
    /// By user, most cost first.
    pub users: Vec<Breakdown>,
    /// By template, most runs first ("No template" for runs of a blank prompt).
    pub templates: Vec<Breakdown>,
}

/// Checks a range: `from` not after `to`, at most [`MAX_DAYS`].
pub fn check_range(from: Date, to: Date) -> Result<()> {
    if from > to {
        return Err(Error::invalid(
            "from",
            "the first day must not be after the last",
        ));
    }
    if (to - from).whole_days() >= MAX_DAYS {
        return Err(Error::invalid(
            "from",
            format!("a range covers at most {MAX_DAYS} days"),
        ));
    }
    Ok(())
}

fn sum_by_key(rows: Vec<crate::domain::UsageRow>) -> BTreeMap<String, UsageCounts> {
    let mut out: BTreeMap<String, UsageCounts> = BTreeMap::new();
    for r in rows {
        out.entry(r.key).or_default().add(&r.counts);
    }
    out
}

/// The dashboard of `workspace` ([`crate::domain::ALL_WORKSPACES`] for every workspace).
pub async fn dashboard(
    store: &dyn Store,
    workspace: WorkspaceId,
    from: Date,
    to: Date,
) -> Result<Dashboard> {
    check_range(from, to)?;
    let mut by_day: HashMap<Date, UsageCounts> = HashMap::new();
    let mut totals = UsageCounts::default();
    for r in store.usage(workspace, UsageDim::Total, from, to).await? {
        by_day.entry(r.day).or_default().add(&r.counts);
        totals.add(&r.counts);
    }
    let mut days = Vec::new();
    let mut d = from;
    while d <= to {
        days.push((d, by_day.get(&d).copied().unwrap_or_default()));
        d += Duration::days(1);
    }

    let mut hist: HashMap<String, BTreeMap<u8, u64>> = HashMap::new();
    for (model, bucket, n) in store.latency_histogram(workspace, from, to).await? {
        *hist.entry(model).or_default().entry(bucket).or_default() += n;
    }
    let mut models: Vec<ModelRow> =
        sum_by_key(store.usage(workspace, UsageDim::Model, from, to).await?)
            .into_iter()
            .map(|(key, counts)| {
                let h = hist.get(&key).cloned().unwrap_or_default();
                ModelRow {
                    p50_ms: percentile(&h, 0.5),
                    p95_ms: percentile(&h, 0.95),
                    row: Breakdown {
                        label: key.clone(),
                        key,
                        counts,
                    },
                }
            })
            .collect();
    models.sort_by(|a, b| {
        b.row
            .counts
            .runs
            .cmp(&a.row.counts.runs)
            .then(a.row.key.cmp(&b.row.key))
    });

    let mut users = Vec::new();
    for (key, counts) in sum_by_key(store.usage(workspace, UsageDim::User, from, to).await?) {
        let label = match key.parse::<UserId>() {
            Ok(id) => match store.get_user(id).await {
                Ok(u) => u.name.as_str().to_owned(),
                Err(Error::NotFound) => "Deleted user".to_owned(),
                Err(e) => return Err(e),
            },
            Err(_) => key.clone(),
        };
        users.push(Breakdown { key, label, counts });
    }
    users.sort_by(|a, b| {
        b.counts
            .cost_micro_usd
            .cmp(&a.counts.cost_micro_usd)
            .then(b.counts.runs.cmp(&a.counts.runs))
            .then(a.label.cmp(&b.label))
    });

    let mut templates = Vec::new();
    for (key, counts) in sum_by_key(store.usage(workspace, UsageDim::Template, from, to).await?) {
        let label = if key.is_empty() {
            "No template".to_owned()
        } else {
            match key.parse::<TemplateId>() {
                Ok(id) => match store.get_template(id).await {
                    Ok(t) => t.name,
                    Err(Error::NotFound) => "Deleted template".to_owned(),
                    Err(e) => return Err(e),
                },
                Err(_) => key.clone(),
            }
        };
        templates.push(Breakdown { key, label, counts });
    }
    templates.sort_by(|a, b| {
        b.counts
            .runs
            .cmp(&a.counts.runs)
            .then(a.label.cmp(&b.label))
    });

    Ok(Dashboard {
        from,
        to,
        days,
        totals,
        models,
        users,
        templates,
    })
}
