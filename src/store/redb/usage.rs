//! Daily roll-ups in redb: (workspace, dimension, Julian day, key) -> packed sums, and
//! (workspace, Julian day, model, bucket) -> runs. Updated in the transaction that stores the
//! runs; filled from the stored runs when the schema first gets them.

use redb::{ReadableTable, WriteTransaction};
use time::Date;

use super::{RUNS, USAGE, USAGE_LATENCY, decode};
use crate::domain::{Run, UsageCounts, UsageDelta, UsageDim, UsageRow, WorkspaceId};
use crate::error::{Error, Result};

const PACKED: usize = 48;

fn pack(c: &UsageCounts) -> [u8; PACKED] {
    let mut out = [0; PACKED];
    for (i, v) in c.fields().iter().enumerate() {
        out[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    out
}

fn unpack(bytes: &[u8]) -> Result<UsageCounts> {
    if bytes.len() != PACKED {
        return Err(Error::internal("a usage row has the wrong size"));
    }
    let mut f = [0_u64; 6];
    for (i, v) in f.iter_mut().enumerate() {
        let mut b = [0; 8];
        b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
        *v = u64::from_le_bytes(b);
    }
    Ok(UsageCounts::from_fields(f))
}

/// Adds `delta` to the roll-ups.
pub(super) fn add_usage(txn: &WriteTransaction, delta: &UsageDelta) -> Result<()> {
    let mut rows = txn.open_table(USAGE)?;
    for ((ws, dim, day, key), counts) in &delta.rows {
        let k = (
            ws.0.as_u128(),
            dim.code(),
            day.to_julian_day(),
            key.as_str(),
        );
        let mut sum = match rows.get(k)? {
            Some(v) => unpack(v.value())?,
            None => UsageCounts::default(),
        };
        sum.add(counts);
        rows.insert(k, pack(&sum).as_slice())?;
    }
    let mut latency = txn.open_table(USAGE_LATENCY)?;
    for ((ws, day, model, bucket), n) in &delta.latency {
        let k = (ws.0.as_u128(), day.to_julian_day(), model.as_str(), *bucket);
        let now = latency.get(k)?.map_or(0, |v| v.value());
        latency.insert(k, now + n)?;
    }
    Ok(())
}

/// Schema step: creates the tables and rolls up the runs already stored.
pub(super) fn create_usage_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(USAGE)?;
    txn.open_table(USAGE_LATENCY)?;
    let runs: Vec<Run> = {
        let table = txn.open_table(RUNS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            out.push(decode(entry?.1.value())?);
        }
        out
    };
    for chunk in runs.chunks(10_000) {
        add_usage(txn, &UsageDelta::of(chunk))?;
    }
    Ok(())
}

pub(super) fn read_usage(
    txn: &redb::ReadTransaction,
    workspace: WorkspaceId,
    dim: UsageDim,
    from: Date,
    to: Date,
) -> Result<Vec<UsageRow>> {
    let table = txn.open_table(USAGE)?;
    let (w, d) = (workspace.0.as_u128(), dim.code());
    let mut out = Vec::new();
    let range = (w, d, from.to_julian_day(), "")..(w, d, to.to_julian_day() + 1, "");
    for entry in table.range(range)? {
        let (k, v) = entry?;
        let (_, _, day, key) = k.value();
        out.push(UsageRow {
            day: Date::from_julian_day(day).map_err(Error::internal)?,
            key: key.to_owned(),
            counts: unpack(v.value())?,
        });
    }
    Ok(out)
}

pub(super) fn read_latency(
    txn: &redb::ReadTransaction,
    workspace: WorkspaceId,
    from: Date,
    to: Date,
) -> Result<Vec<(String, u8, u64)>> {
    let table = txn.open_table(USAGE_LATENCY)?;
    let w = workspace.0.as_u128();
    let mut sums: std::collections::BTreeMap<(String, u8), u64> = Default::default();
    for entry in
        table.range((w, from.to_julian_day(), "", 0)..(w, to.to_julian_day() + 1, "", 0))?
    {
        let (k, v) = entry?;
        let (_, _, model, bucket) = k.value();
        *sums.entry((model.to_owned(), bucket)).or_default() += v.value();
    }
    Ok(sums.into_iter().map(|((m, b), n)| (m, b, n)).collect())
}

/// Removes a deleted workspace's rows (the instance-wide rows keep its history).
pub(super) fn delete_for_workspace(txn: &WriteTransaction, w: u128) -> Result<()> {
    let mut rows = txn.open_table(USAGE)?;
    let doomed: Vec<(u8, i32, String)> = rows
        .range((w, 0, i32::MIN, "")..(w.saturating_add(1), 0, i32::MIN, ""))?
        .map(|e| {
            e.map(|(k, _)| {
                let (_, d, day, key) = k.value();
                (d, day, key.to_owned())
            })
        })
        .collect::<std::result::Result<_, _>>()?;
    for (d, day, key) in doomed {
        rows.remove((w, d, day, key.as_str()))?;
    }
    let mut latency = txn.open_table(USAGE_LATENCY)?;
    let doomed: Vec<(i32, String, u8)> = latency
        .range((w, i32::MIN, "", 0)..(w.saturating_add(1), i32::MIN, "", 0))?
        .map(|e| {
            e.map(|(k, _)| {
                let (_, day, model, b) = k.value();
                (day, model.to_owned(), b)
            })
        })
        .collect::<std::result::Result<_, _>>()?;
    for (day, model, b) in doomed {
        latency.remove((w, day, model.as_str(), b))?;
    }
    Ok(())
}
