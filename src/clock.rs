//! The only place that reads the current time.
//!
//! Everything else asks a [`Clock`], so tests can move time forward (session expiry) without
//! sleeping. Reading the system clock elsewhere is a clippy `disallowed-methods` error.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime};

/// A source of "now".
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Seconds added to the system time; only tests move it.
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The current time in UTC, truncated to microseconds so that both stores keep it exactly.
    pub fn now(&self) -> OffsetDateTime {
        #[allow(clippy::disallowed_methods)]
        let now =
            OffsetDateTime::now_utc() + Duration::seconds(self.offset_secs.load(Ordering::Relaxed));
        let micros = now.microsecond();
        now.replace_nanosecond(micros * 1_000).unwrap_or(now)
    }

    /// Moves this clock (and every clone of it) forward; for tests of expiry.
    pub fn advance(&self, by: Duration) {
        self.offset_secs
            .fetch_add(by.whole_seconds(), Ordering::Relaxed);
    }
}
