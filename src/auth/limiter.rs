//! Login attempt limits per client address and per account (GCRA through `governor`).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{Error, Result};

/// Keyed limiters for login attempts.
pub struct LoginLimiter {
    per_ip: DefaultKeyedRateLimiter<String>,
    per_account: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

fn quota(per_minute: u32) -> Quota {
    let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(n)
}

impl LoginLimiter {
    /// `per_ip` and `per_account` attempts per minute, each also the burst size.
    pub fn new(per_ip: u32, per_account: u32) -> Self {
        Self {
            per_ip: RateLimiter::keyed(quota(per_ip)),
            per_account: RateLimiter::keyed(quota(per_account)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one attempt from `ip` at `account`; `RateLimited` when either budget is spent.
    pub fn check(&self, ip: &str, account: &str) -> Result<()> {
        let wait = |not_until: governor::NotUntil<_>| {
            let d: Duration = not_until.wait_time_from(self.clock.now());
            Error::RateLimited {
                retry_after_secs: d.as_secs() + u64::from(d.subsec_nanos() > 0),
            }
        };
        self.per_ip.check_key(&ip.to_owned()).map_err(wait)?;
        self.per_account
            .check_key(&account.to_owned())
            .map_err(wait)?;
        Ok(())
    }

    /// Forgets keys whose budget is full again, bounding memory.
    pub fn retain_recent(&self) {
        self.per_ip.retain_recent();
        self.per_account.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_account_and_per_ip() {
        let l = LoginLimiter::new(4, 2);
        assert!(l.check("1.1.1.1", "a").is_ok());
        assert!(l.check("2.2.2.2", "a").is_ok());
        match l.check("3.3.3.3", "a") {
            Err(Error::RateLimited { retry_after_secs }) => {
                assert!((1..=60).contains(&retry_after_secs))
            }
            other => panic!("expected a limit, got {other:?}"),
        }
        assert!(l.check("1.1.1.1", "b").is_ok());
        assert!(l.check("1.1.1.1", "c").is_ok());
        assert!(l.check("1.1.1.1", "d").is_ok());
        assert!(matches!(
            l.check("1.1.1.1", "e"),
            Err(Error::RateLimited { .. })
        ));
    }
}
