//! Monthly budgets: before a call its estimated cost is reserved against the workspace's and
//! the member's budget under one lock, so concurrent calls cannot together pass a budget; when
//! the call ends the reservation is replaced by the actual cost.
//!
//! Ledgers start from the spend the store has for the month (read once per workspace and month)
//! and are kept in memory after that; the store's spend is updated by the run recorder in the
//! same transaction as the runs. One process owns the ledgers: with several servers on one
//! Postgres database each enforces the budget on its own view.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use time::OffsetDateTime;

use crate::domain::governance::{month_of, next_month_start};
use crate::domain::{GatewaySettings, UserId, WorkspaceId};
use crate::error::{Error, Result};
use crate::store::Store;

/// Slack for float sums, far below a cent.
const EPSILON: f64 = 1e-9;

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct LedgerKey {
    workspace: WorkspaceId,
    /// `None` for the workspace as a whole.
    user: Option<UserId>,
    month: String,
}

#[derive(Clone, Copy, Debug, Default)]
struct Ledger {
    settled: f64,
    reserved: f64,
}

#[derive(Default)]
struct Ledgers {
    loaded: HashSet<(WorkspaceId, String)>,
    by_key: HashMap<LedgerKey, Ledger>,
}

/// The budget ledgers; shared by the gateway.
pub struct Budgets {
    store: Arc<dyn Store>,
    ledgers: Mutex<Ledgers>,
}

/// An amount held against budgets until the call ends; released if dropped unsettled.
pub struct Reservation {
    budgets: Arc<Budgets>,
    keys: [LedgerKey; 2],
    amount: f64,
    open: bool,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("amount", &self.amount)
            .finish_non_exhaustive()
    }
}

impl Reservation {
    /// Replaces the reservation by what the call actually cost.
    pub fn settle(mut self, actual_usd: f64) {
        self.close(actual_usd);
    }

    fn close(&mut self, actual_usd: f64) {
        if !self.open {
            return;
        }
        self.open = false;
        let actual = if actual_usd.is_finite() && actual_usd > 0.0 {
            actual_usd
        } else {
            0.0
        };
        let mut ledgers = self.budgets.lock();
        for key in &self.keys {
            let l = ledgers.by_key.entry(key.clone()).or_default();
            l.reserved = (l.reserved - self.amount).max(0.0);
            l.settled += actual;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.close(0.0);
    }
}

fn usd(v: f64) -> String {
    format!("${v:.2}")
}

impl Budgets {
    /// Empty ledgers over `store`.
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            store,
            ledgers: Mutex::new(Ledgers::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledgers> {
        self.ledgers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the month's stored spend for `workspace` into the ledgers, once.
    async fn load(&self, workspace: WorkspaceId, month: &str) -> Result<()> {
        let tag = (workspace, month.to_owned());
        if self.lock().loaded.contains(&tag) {
            return Ok(());
        }
        let spend = self.store.get_month_spend(workspace, month).await?;
        let mut ledgers = self.lock();
        if !ledgers.loaded.insert(tag) {
            return Ok(());
        }
        // Earlier months are over; keep only ledgers with calls still in flight.
        ledgers
            .by_key
            .retain(|k, l| k.month == month || l.reserved > 0.0);
        let mut put = |user: Option<UserId>, usd: f64| {
            let l = ledgers
                .by_key
                .entry(LedgerKey {
                    workspace,
                    user,
                    month: month.to_owned(),
                })
                .or_default();
            l.settled += usd;
        };
        put(None, spend.total_usd);
        for (user, usd) in spend.by_user {
            put(Some(user), usd);
        }
        Ok(())
    }

    /// Reserves `estimate_usd` for a call by `user` in `workspace` at `now`, or refuses naming
    /// the budget that is used up and when it renews.
    pub async fn reserve(
        self: &Arc<Self>,
        workspace: WorkspaceId,
        user: UserId,
        now: OffsetDateTime,
        estimate_usd: f64,
        settings: &GatewaySettings,
    ) -> Result<Reservation> {
        let month = month_of(now);
        self.load(workspace, &month).await?;
        let estimate = if estimate_usd.is_finite() && estimate_usd > 0.0 {
            estimate_usd
        } else {
            0.0
        };
        let keys = [
            LedgerKey {
                workspace,
                user: None,
                month: month.clone(),
            },
            LedgerKey {
                workspace,
                user: Some(user),
                month,
            },
        ];
        let renews = next_month_start(now).date();
        let mut ledgers = self.lock();
        let limits = [
            (settings.budget_usd, "the workspace's monthly budget"),
            (
                settings.member_budget_usd,
                "your monthly budget in this workspace",
            ),
        ];
        for (key, (limit, what)) in keys.iter().zip(limits) {
            let Some(limit) = limit else { continue };
            let l = ledgers.by_key.get(key).copied().unwrap_or_default();
            let used = l.settled + l.reserved;
            if used + EPSILON >= limit || used + estimate > limit + EPSILON {
                return Err(Error::OverBudget(format!(
                    "{what} of {} is used up ({} spent, {} held by calls in progress, this call \
                     may cost up to {}); it renews on {renews}",
                    usd(limit),
                    usd(l.settled),
                    usd(l.reserved),
                    usd(estimate),
                )));
            }
        }
        for key in &keys {
            ledgers.by_key.entry(key.clone()).or_default().reserved += estimate;
        }
        drop(ledgers);
        Ok(Reservation {
            budgets: self.clone(),
            keys,
            amount: estimate,
            open: true,
        })
    }
}
