//! Rate limits on model calls: requests and prompt tokens per minute, per API key, per user
//! and per workspace. Counters live in memory (GCRA through `governor`); nothing scans the run
//! history on the request path.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::config::LimitsConfig;
use crate::error::{Error, Result};

type Limiter = Option<DefaultKeyedRateLimiter<Uuid>>;

fn limiter(per_minute: u32) -> Limiter {
    NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)))
}

/// The configured limits.
pub struct Limits {
    key_requests: Limiter,
    user_requests: Limiter,
    workspace_requests: Limiter,
    key_tokens: Limiter,
    user_tokens: Limiter,
    workspace_tokens: Limiter,
    clock: DefaultClock,
}

/// Who a call counts against.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    /// The API key, for `/v1` calls.
    pub key: Option<Uuid>,
    /// The user.
    pub user: Uuid,
    /// The workspace.
    pub workspace: Uuid,
}

impl Limits {
    /// Limits from `[limits]`.
    pub fn new(c: &LimitsConfig) -> Self {
        Self {
            key_requests: limiter(c.key_requests_per_minute),
            user_requests: limiter(c.user_requests_per_minute),
            workspace_requests: limiter(c.workspace_requests_per_minute),
            key_tokens: limiter(c.key_tokens_per_minute),
            user_tokens: limiter(c.user_tokens_per_minute),
            workspace_tokens: limiter(c.workspace_tokens_per_minute),
            clock: DefaultClock::default(),
        }
    }

    /// Whether any token limit is set (so callers count tokens only when needed).
    pub fn counts_tokens(&self) -> bool {
        self.key_tokens.is_some() || self.user_tokens.is_some() || self.workspace_tokens.is_some()
    }

    /// Admits one call with `tokens` prompt tokens, or says which limit it hit and when to retry.
    pub fn admit(&self, who: Caller, tokens: u32) -> Result<()> {
        let checks: [(&Limiter, Option<Uuid>, u32, &str); 6] = [
            (
                &self.key_requests,
                who.key,
                1,
                "this API key's requests per minute",
            ),
            (
                &self.user_requests,
                Some(who.user),
                1,
                "your requests per minute",
            ),
            (
                &self.workspace_requests,
                Some(who.workspace),
                1,
                "the workspace's requests per minute",
            ),
            (
                &self.key_tokens,
                who.key,
                tokens,
                "this API key's tokens per minute",
            ),
            (
                &self.user_tokens,
                Some(who.user),
                tokens,
                "your tokens per minute",
            ),
            (
                &self.workspace_tokens,
                Some(who.workspace),
                tokens,
                "the workspace's tokens per minute",
            ),
        ];
        for (limiter, id, n, what) in checks {
            let (Some(limiter), Some(id), Some(n)) = (limiter, id, NonZeroU32::new(n)) else {
                continue;
            };
            match limiter.check_key_n(&id, n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => {
                    let wait: Duration = not_until.wait_time_from(self.clock.now());
                    return Err(Error::RateLimitedOn {
                        what: what.to_owned(),
                        retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                    });
                }
                Err(_) => {
                    return Err(Error::invalid(
                        "messages",
                        format!("the prompt alone is larger than {what}"),
                    ));
                }
            }
        }
        Ok(())
    }
}
