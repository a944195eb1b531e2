//! Rate limits on model calls: requests and prompt tokens per minute, per API key, per user
//! and per workspace. Counters live in memory (GCRA through `governor`); nothing scans the run
//! history on the request path. The `[limits]` config sets instance-wide limits; a workspace's
//! admins add their own (for the workspace, each member and each key) in its gateway settings.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::config::LimitsConfig;
use crate::domain::GatewaySettings;
use crate::error::{Error, Result};

/// A workspace-set limiter: (what, workspace, who) -> (its quota, the limiter).
type DynamicKey = (&'static str, Uuid, Uuid);
type Dynamic = HashMap<DynamicKey, (NonZeroU32, Arc<DefaultDirectRateLimiter>)>;

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
    dynamic: Mutex<Dynamic>,
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
            dynamic: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    /// Whether any token limit is set (so callers count tokens only when needed).
    pub fn counts_tokens(&self, settings: &GatewaySettings) -> bool {
        self.key_tokens.is_some()
            || self.user_tokens.is_some()
            || self.workspace_tokens.is_some()
            || [
                settings.workspace_limit,
                settings.member_limit,
                settings.key_limit,
            ]
            .iter()
            .any(|l| l.tokens_per_minute.is_some())
    }

    /// Admits one call with `tokens` prompt tokens under the instance's and the workspace's
    /// limits, or says which limit it hit and when to retry.
    pub fn admit(&self, who: Caller, tokens: u32, settings: &GatewaySettings) -> Result<()> {
        self.admit_instance(who, tokens)?;
        let w = who.workspace;
        let checks = [
            (
                "workspace requests",
                w,
                Some(w),
                settings.workspace_limit.requests_per_minute,
                1,
                "the workspace's requests per minute",
            ),
            (
                "member requests",
                w,
                Some(who.user),
                settings.member_limit.requests_per_minute,
                1,
                "your requests per minute in this workspace",
            ),
            (
                "key requests",
                w,
                who.key,
                settings.key_limit.requests_per_minute,
                1,
                "this API key's requests per minute",
            ),
            (
                "workspace tokens",
                w,
                Some(w),
                settings.workspace_limit.tokens_per_minute,
                tokens,
                "the workspace's tokens per minute",
            ),
            (
                "member tokens",
                w,
                Some(who.user),
                settings.member_limit.tokens_per_minute,
                tokens,
                "your tokens per minute in this workspace",
            ),
            (
                "key tokens",
                w,
                who.key,
                settings.key_limit.tokens_per_minute,
                tokens,
                "this API key's tokens per minute",
            ),
        ];
        for (tag, ws, id, quota, n, what) in checks {
            let (Some(id), Some(quota), Some(n)) =
                (id, quota.and_then(NonZeroU32::new), NonZeroU32::new(n))
            else {
                continue;
            };
            let limiter = {
                let mut dynamic = self.dynamic.lock().unwrap_or_else(PoisonError::into_inner);
                let slot = dynamic.entry((tag, ws, id)).or_insert_with(|| {
                    (
                        quota,
                        Arc::new(RateLimiter::direct(
                            Quota::per_minute(quota).allow_burst(quota),
                        )),
                    )
                });
                if slot.0 != quota {
                    *slot = (
                        quota,
                        Arc::new(RateLimiter::direct(
                            Quota::per_minute(quota).allow_burst(quota),
                        )),
                    );
                }
                slot.1.clone()
            };
            self.verdict(limiter.check_n(n), what)?;
        }
        Ok(())
    }

    fn verdict(
        &self,
        outcome: std::result::Result<
            std::result::Result<(), governor::NotUntil<governor::clock::QuantaInstant>>,
            governor::InsufficientCapacity,
        >,
        what: &str,
    ) -> Result<()> {
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                let wait: Duration = not_until.wait_time_from(self.clock.now());
                Err(Error::RateLimitedOn {
                    what: what.to_owned(),
                    retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                })
            }
            Err(_) => Err(Error::invalid(
                "messages",
                format!("the prompt alone is larger than {what}"),
            )),
        }
    }

    fn admit_instance(&self, who: Caller, tokens: u32) -> Result<()> {
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
            self.verdict(limiter.check_key_n(&id, n), what)?;
        }
        Ok(())
    }
}
