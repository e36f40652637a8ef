//! The replay report (JSON schema in docs/audit.md) and the per-batch timings kept between
//! runs.
//!
//! Input: the watcher's batch records, the timings, and which batches this run checked.
//! Output: a [`Report`]: one entry per batch in the range, and totals.

use super::AuditError;
use super::range::{Bound, Range};
use crate::protocol::Checkpoint;
use crate::watcher::{BatchRecord, Verdict};
use alloy_primitives::B256;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The report's format tag.
pub const REPORT_FORMAT: &str = "native-challenger-audit-report/1";

/// Seconds of replay per batch id. A watcher step may check several batches; its time is
/// shared among them in proportion to their L2 gas (equally if they used none).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timings {
    pub seconds: BTreeMap<u64, f64>,
}

impl Timings {
    pub fn load(path: &Path) -> Result<Self, AuditError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AuditError::Format {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(AuditError::Io { path: path.to_path_buf(), error }),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), AuditError> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| AuditError::Format { path: path.to_path_buf(), reason: e.to_string() })?;
        write_atomic(path, &bytes)
    }

    pub fn record(&mut self, checked: &[BatchRecord], seconds: f64) {
        let gas: u64 = checked.iter().map(|r| r.l2_gas).sum();
        for r in checked {
            let share =
                if gas == 0 { 1.0 / checked.len() as f64 } else { r.l2_gas as f64 / gas as f64 };
            self.seconds.insert(r.id, seconds * share);
        }
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    let tmp = path.with_extension("tmp");
    let io = |error| AuditError::Io { path: path.to_path_buf(), error };
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// A root and gas pair: what EXECUTE checks of a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootGas {
    pub post_state_root: B256,
    pub gas_used: u64,
}

impl From<&Checkpoint> for RootGas {
    fn from(c: &Checkpoint) -> Self {
        Self { post_state_root: c.post_state_root, gas_used: c.gas_used }
    }
}

/// A batch's verdict in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BatchVerdict {
    Valid,
    Invalid { first_divergent_block: u64, index: usize, correct: RootGas, claimed: RootGas },
    Skipped { reason: String },
}

/// One batch of the range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchReport {
    pub id: u64,
    pub l1_block: u64,
    pub l1_tx: B256,
    pub first_block: u64,
    pub block_count: u64,
    pub l2_gas: u64,
    pub verdict: BatchVerdict,
    /// `None` when the timing was lost (the state dir predates it).
    pub replay_seconds: Option<f64>,
    /// False when an earlier, interrupted run already checked this batch.
    pub checked_this_run: bool,
}

/// Sums over the range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub batches: u64,
    pub valid: u64,
    pub invalid: u64,
    pub skipped: u64,
    pub l2_blocks: u64,
    pub l2_gas: u64,
    pub replay_seconds: f64,
    pub mgas_per_second: f64,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// This format's tag.
    pub format: String,
    pub from: Bound,
    pub to: Bound,
    pub batches: Vec<BatchReport>,
    pub totals: Totals,
}

impl Report {
    pub fn build(
        records: &[BatchRecord],
        range: Range,
        timings: &Timings,
        this_run: &[u64],
    ) -> Self {
        let this_run: std::collections::BTreeSet<u64> = this_run.iter().copied().collect();
        let batches: Vec<BatchReport> = records
            .iter()
            .filter(|r| range.contains(r))
            .map(|r| BatchReport {
                id: r.id,
                l1_block: r.l1_block,
                l1_tx: r.tx_hash,
                first_block: r.first_block,
                block_count: r.block_count,
                l2_gas: r.l2_gas,
                verdict: verdict_of(r),
                replay_seconds: timings.seconds.get(&r.id).copied(),
                checked_this_run: this_run.contains(&r.id),
            })
            .collect();
        let totals = totals(&batches);
        Self { format: REPORT_FORMAT.into(), from: range.from, to: range.to, batches, totals }
    }
}

fn verdict_of(r: &BatchRecord) -> BatchVerdict {
    match &r.verdict {
        Verdict::Valid => BatchVerdict::Valid,
        Verdict::Skipped { reason } => BatchVerdict::Skipped { reason: reason.clone() },
        Verdict::Invalid { index } => {
            let correct = r.local.get(*index).map(RootGas::from);
            let claimed = r.claimed.get(*index).map(RootGas::from);
            let zero = RootGas { post_state_root: B256::ZERO, gas_used: 0 };
            BatchVerdict::Invalid {
                first_divergent_block: r.first_block + *index as u64,
                index: *index,
                correct: correct.unwrap_or(zero),
                claimed: claimed.unwrap_or(zero),
            }
        }
    }
}

fn totals(batches: &[BatchReport]) -> Totals {
    let mut t = Totals::default();
    for b in batches {
        t.batches += 1;
        match b.verdict {
            BatchVerdict::Valid => t.valid += 1,
            BatchVerdict::Invalid { .. } => t.invalid += 1,
            BatchVerdict::Skipped { .. } => t.skipped += 1,
        }
        t.l2_blocks += b.block_count;
        t.l2_gas += b.l2_gas;
        t.replay_seconds += b.replay_seconds.unwrap_or(0.0);
    }
    if t.replay_seconds > 0.0 {
        t.mgas_per_second = t.l2_gas as f64 / 1e6 / t.replay_seconds;
    }
    t
}
