//! Audits of a rollup's history: replay a range of batches from L1 data alone and say, per
//! batch, whether its checkpoints were right; optionally export every checked L2 block as a
//! self-contained EXECUTE input (an audit bundle) that anyone can re-check offline.
//!
//! Input: a [`Watcher`] (its own L1 source, database and L2 store), a batch range, and
//! optionally a [`bundle::BundleExporter`]. Output: a [`report::Report`] (JSON, see
//! docs/audit.md) and, with an exporter, block files plus `manifest.json`.
//! Invariants: read-only towards L1 (no key); resumable: the watcher's cursor and batch
//! records, the exporter's progress file and the per-batch timings all live on disk, so a
//! second run continues where the first stopped and never re-checks a finished batch.

pub mod bundle;
pub mod html;
pub mod open;
pub mod range;
pub mod report;
pub mod verify;

use crate::watcher::{BatchRecord, Finding, L1Source, WatchDb, WatchError, Watcher};
use bundle::BundleExporter;
use range::{Bound, Progress, Range, eta, fraction};
use report::{Report, Timings};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Why an audit stopped.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Watch(#[from] WatchError),
    #[error(transparent)]
    Db(#[from] crate::watcher::db::DbError),
    #[error(transparent)]
    Store(#[from] crate::execute_local::store::StoreError),
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("exporting batch {batch}: {reason}")]
    Export { batch: u64, reason: String },
    #[error("{0} was not reached: caught up with the confirmed L1 head for {1:?} without it")]
    NotFound(Bound, Duration),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Boxed: the daemon's error is several times the size of every other variant.
    #[error(transparent)]
    Daemon(Box<crate::daemon::DaemonError>),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error(transparent)]
    Source(#[from] crate::watcher::SourceError),
    #[error("L1: {0}")]
    L1(String),
    #[error("{0}")]
    Range(String),
}

impl From<crate::daemon::DaemonError> for AuditError {
    fn from(error: crate::daemon::DaemonError) -> Self {
        Self::Daemon(Box::new(error))
    }
}

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    pub range: Range,
    /// Where the per-batch timings are kept between runs.
    pub timings: PathBuf,
    /// Wait between polls once caught up with L1.
    pub poll: Duration,
    /// Give up when caught up this long without reaching `range.to`.
    pub idle_timeout: Duration,
}

/// Replays until `plan.range.to` is reached (batch `to` checked and exported, or L1 block
/// `l1:to` processed), then reports on the range. `progress` is called after every watcher
/// step that read L1.
pub async fn replay<S: L1Source>(
    watcher: &mut Watcher<S>,
    plan: &ReplayPlan,
    mut exporter: Option<&mut BundleExporter>,
    mut progress: impl FnMut(&Progress),
) -> Result<Report, AuditError> {
    plan.range.validate().map_err(AuditError::Range)?;
    let mut timings = Timings::load(&plan.timings)?;
    let mut this_run = Vec::new();
    let mut idle_since = Instant::now();
    let mut stepped = false;
    let start_cursor = watcher.db().cursor()?.map(|c| c.number);
    let mut last_processed = start_cursor;
    let start_l1 = start_cursor.unwrap_or(watcher.start_block().saturating_sub(1));
    let mut last_batch = watcher.db().batches()?.last().map(|r| r.id);
    let start_batch = last_batch.unwrap_or(0);
    let mut p = Progress {
        batches: 0,
        l2_gas: 0,
        busy: Duration::ZERO,
        last_batch,
        l1_block: start_l1,
        done: 0.0,
        eta: None,
        step_batches: 0,
        step_gas: 0,
        step_seconds: 0.0,
    };
    loop {
        if let Some(ex) = exporter.as_deref_mut() {
            ex.export_pending(watcher.db(), watcher.source()).await?;
        }
        // At least one step per run, so what an earlier run recorded is checked against L1
        // (a reorg since then is followed) before it is reported.
        if stepped && reached(watcher.db(), plan.range.to)? {
            break;
        }
        stepped = true;
        let started = Instant::now();
        let (findings, processed, _head) = watcher.step().await?;
        let took = started.elapsed();
        let checked = checked_batches(findings);
        if !checked.is_empty() {
            timings.record(&checked, took.as_secs_f64());
            timings.save(&plan.timings)?;
            this_run.extend(checked.iter().map(|r| r.id));
            last_batch = checked.last().map(|r| r.id).or(last_batch);
        }
        if processed != last_processed {
            last_processed = processed;
            idle_since = Instant::now();
            let step_gas: u64 = checked.iter().map(|r| r.l2_gas).sum();
            p.batches += checked.len() as u64;
            p.l2_gas += step_gas;
            p.busy += took;
            p.last_batch = last_batch;
            p.l1_block = processed.unwrap_or(start_l1);
            p.done = match plan.range.to {
                Bound::Batch(to) => fraction(start_batch, last_batch.unwrap_or(0), to),
                Bound::L1Block(to) => fraction(start_l1, p.l1_block, to),
            };
            p.eta = eta(p.busy, p.done);
            (p.step_batches, p.step_gas, p.step_seconds) =
                (checked.len() as u64, step_gas, took.as_secs_f64());
            progress(&p);
        } else {
            if reached(watcher.db(), plan.range.to)? {
                continue;
            }
            // Caught up with the confirmed head: wait for L1 to move.
            if idle_since.elapsed() > plan.idle_timeout {
                return Err(AuditError::NotFound(plan.range.to, plan.idle_timeout));
            }
            tokio::time::sleep(plan.poll).await;
        }
    }
    let records = watcher.db().batches()?;
    Ok(Report::build(&records, plan.range, &timings, &this_run))
}

/// Whether the replay has reached the end of its range.
fn reached(db: &WatchDb, to: Bound) -> Result<bool, AuditError> {
    Ok(match to {
        Bound::Batch(id) => db.batch(id)?.is_some(),
        Bound::L1Block(number) => db.cursor()?.is_some_and(|c| c.number >= number),
    })
}

fn checked_batches(findings: Vec<Finding>) -> Vec<BatchRecord> {
    findings
        .into_iter()
        .filter_map(|f| match f {
            Finding::Checked(r) => Some(r),
            _ => None,
        })
        .collect()
}
