//! Daily roll-ups of runs for the analytics pages: counts, tokens, cost and latency per day, by
//! workspace and by one dimension (everything, model, user or template), plus a latency
//! histogram per model. The store updates them in the same transaction that records the runs,
//! so a dashboard reads a few hundred rows instead of every run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;
use uuid::Uuid;

use super::{Run, RunState, WorkspaceId};

/// The rows that sum every workspace (the instance-wide view for instance admins).
pub const ALL_WORKSPACES: WorkspaceId = WorkspaceId(Uuid::nil());

/// What a roll-up row is grouped by, besides workspace and day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UsageDim {
    /// Everything (the key is empty).
    Total,
    /// The model that answered.
    Model,
    /// The user who ran it (the key is the user id).
    User,
    /// The template it came from (the key is the template id, empty for none).
    Template,
}

impl UsageDim {
    /// Every dimension.
    pub const ALL: [UsageDim; 4] = [Self::Total, Self::Model, Self::User, Self::Template];

    /// The stored number.
    pub fn code(self) -> u8 {
        match self {
            Self::Total => 0,
            Self::Model => 1,
            Self::User => 2,
            Self::Template => 3,
        }
    }

    /// The key of `run` in this dimension.
    pub fn key_of(self, run: &Run) -> String {
        match self {
            Self::Total => String::new(),
            Self::Model => run.model.clone(),
            Self::User => run.user_id.to_string(),
            Self::Template => run.template_id.map(|t| t.to_string()).unwrap_or_default(),
        }
    }
}

/// Sums over a set of runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageCounts {
    /// Runs.
    pub runs: u64,
    /// Runs that failed.
    pub failed: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost in millionths of a USD (runs of unknown price add nothing).
    pub cost_micro_usd: u64,
    /// Latency summed, milliseconds.
    pub latency_ms: u64,
}

impl UsageCounts {
    /// The counts of one run.
    pub fn of(run: &Run) -> Self {
        Self {
            runs: 1,
            failed: u64::from(run.state == RunState::Failed),
            input_tokens: run.input_tokens,
            output_tokens: run.output_tokens,
            cost_micro_usd: micro_usd(run.cost_usd),
            latency_ms: run.latency_ms,
        }
    }

    /// Adds `other` to these.
    pub fn add(&mut self, other: &Self) {
        self.runs += other.runs;
        self.failed += other.failed;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cost_micro_usd += other.cost_micro_usd;
        self.latency_ms += other.latency_ms;
    }

    /// The sums in a fixed order (runs, failed, input, output, cost, latency), for storage.
    pub fn fields(&self) -> [u64; 6] {
        [
            self.runs,
            self.failed,
            self.input_tokens,
            self.output_tokens,
            self.cost_micro_usd,
            self.latency_ms,
        ]
    }

    /// The inverse of [`UsageCounts::fields`].
    pub fn from_fields(f: [u64; 6]) -> Self {
        let [
            runs,
            failed,
            input_tokens,
            output_tokens,
            cost_micro_usd,
            latency_ms,
        ] = f;
        Self {
            runs,
            failed,
            input_tokens,
            output_tokens,
            cost_micro_usd,
            latency_ms,
        }
    }

    /// Cost in USD.
    pub fn cost_usd(&self) -> f64 {
        self.cost_micro_usd as f64 / 1e6
    }
}

/// A cost in millionths of a USD.
pub fn micro_usd(usd: Option<f64>) -> u64 {
    match usd {
        Some(c) if c.is_finite() && c > 0.0 => (c * 1e6).round() as u64,
        _ => 0,
    }
}

/// One roll-up row as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageRow {
    /// The day (UTC).
    pub day: Date,
    /// The dimension's key.
    pub key: String,
    /// The sums.
    pub counts: UsageCounts,
}

/// Latency histogram buckets: bucket `b` holds latencies up to [`bucket_upper_ms`]`(b)`.
pub const LATENCY_BUCKETS: u8 = 48;

/// Upper bounds of the buckets: each 40% above the previous one, rounded up (1, 2, 3, 5, 7, 10,
/// 14, 20, ... ms, past an hour at the next-to-last bucket); the last has no limit.
static UPPER_MS: std::sync::LazyLock<[u64; LATENCY_BUCKETS as usize]> =
    std::sync::LazyLock::new(|| {
        let mut out = [u64::MAX; LATENCY_BUCKETS as usize];
        let mut upper = 1.0_f64;
        for slot in out.iter_mut().take(LATENCY_BUCKETS as usize - 1) {
            *slot = upper as u64;
            upper = (upper * 1.4).ceil();
        }
        out
    });

/// The histogram bucket of a latency.
pub fn latency_bucket(ms: u64) -> u8 {
    UPPER_MS.partition_point(|&upper| upper < ms) as u8
}

/// The largest latency in bucket `b` (the last bucket has no limit).
pub fn bucket_upper_ms(b: u8) -> u64 {
    UPPER_MS[usize::from(b.min(LATENCY_BUCKETS - 1))]
}

/// The percentile `p` (0 to 1) of a histogram given as (bucket, count): the upper bound of the
/// bucket it falls in.
pub fn percentile(hist: &BTreeMap<u8, u64>, p: f64) -> Option<u64> {
    let total: u64 = hist.values().sum();
    if total == 0 {
        return None;
    }
    let rank = ((total as f64) * p).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (b, n) in hist {
        seen += n;
        if seen >= rank {
            return Some(bucket_upper_ms(*b));
        }
    }
    None
}

/// What a batch of runs adds to the roll-ups.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageDelta {
    /// (workspace, dimension, day, key) -> sums; each run counts for its workspace and for
    /// [`ALL_WORKSPACES`].
    pub rows: BTreeMap<(WorkspaceId, UsageDim, Date, String), UsageCounts>,
    /// (workspace, day, model, bucket) -> runs.
    pub latency: BTreeMap<(WorkspaceId, Date, String, u8), u64>,
}

impl UsageDelta {
    /// The roll-up changes for `runs`.
    pub fn of<'a>(runs: impl IntoIterator<Item = &'a Run>) -> Self {
        let mut d = Self::default();
        for run in runs {
            let day = run.created_at.to_offset(time::UtcOffset::UTC).date();
            let counts = UsageCounts::of(run);
            for ws in [run.workspace_id, ALL_WORKSPACES] {
                for dim in UsageDim::ALL {
                    d.rows
                        .entry((ws, dim, day, dim.key_of(run)))
                        .or_default()
                        .add(&counts);
                }
                *d.latency
                    .entry((ws, day, run.model.clone(), latency_bucket(run.latency_ms)))
                    .or_default() += 1;
            }
        }
        d
    }

    /// Whether there is nothing to add.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.latency.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_grow_and_cover_every_latency() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(1), 0);
        assert_eq!(latency_bucket(2), 1);
        let mut last = 0;
        for b in 0..LATENCY_BUCKETS - 1 {
            let up = bucket_upper_ms(b);
            assert!(up > last, "bucket {b}");
            assert_eq!(latency_bucket(up), b);
            assert_eq!(latency_bucket(up + 1), b + 1);
            last = up;
        }
        assert!(bucket_upper_ms(LATENCY_BUCKETS - 2) > 3_600_000);
        assert_eq!(latency_bucket(u64::MAX), LATENCY_BUCKETS - 1);
    }

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut h = BTreeMap::new();
        for ms in [10_u64, 10, 10, 10, 10, 10, 10, 10, 10, 900] {
            *h.entry(latency_bucket(ms)).or_default() += 1;
        }
        let p50 = percentile(&h, 0.5).unwrap();
        assert!((10..=14).contains(&p50), "{p50}");
        let p95 = percentile(&h, 0.95).unwrap();
        assert!((900..=1300).contains(&p95), "{p95}");
        assert_eq!(percentile(&BTreeMap::new(), 0.5), None);
    }
}
