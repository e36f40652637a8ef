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
pub mod open;
pub mod report;
pub mod verify;

use crate::watcher::{BatchRecord, Finding, L1Source, WatchError, Watcher};
use bundle::BundleExporter;
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
    #[error("batch {0} was not proposed on L1 (no new batch for {1:?} while caught up)")]
    NotFound(u64, Duration),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Daemon(#[from] crate::daemon::DaemonError),
    #[error(transparent)]
    Source(#[from] crate::watcher::SourceError),
    #[error("L1: {0}")]
    L1(String),
    #[error("--from {from} is after --to {to}")]
    Range { from: u64, to: u64 },
}

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    pub from: u64,
    pub to: u64,
    /// Where the per-batch timings are kept between runs.
    pub timings: PathBuf,
    /// Wait between polls once caught up with L1.
    pub poll: Duration,
    /// Give up when caught up this long without seeing batch `to`.
    pub idle_timeout: Duration,
}

/// Replays until batch `plan.to` is checked (and exported), then reports on the range.
/// `progress` receives one human-readable line per watcher step that checked batches.
pub async fn replay<S: L1Source>(
    watcher: &mut Watcher<S>,
    plan: &ReplayPlan,
    mut exporter: Option<&mut BundleExporter>,
    mut progress: impl FnMut(&str),
) -> Result<Report, AuditError> {
    if plan.from > plan.to {
        return Err(AuditError::Range { from: plan.from, to: plan.to });
    }
    let mut timings = Timings::load(&plan.timings)?;
    let mut this_run = Vec::new();
    let run_started = Instant::now();
    let mut idle_since = Instant::now();
    let mut last_processed = None;
    loop {
        if let Some(ex) = exporter.as_deref_mut() {
            ex.export_pending(watcher.db(), watcher.source()).await?;
        }
        if watcher.db().batch(plan.to)?.is_some() {
            break;
        }
        let started = Instant::now();
        let (findings, processed, _head) = watcher.step().await?;
        let checked = checked_batches(findings);
        if !checked.is_empty() {
            timings.record(&checked, started.elapsed().as_secs_f64());
            timings.save(&plan.timings)?;
            this_run.extend(checked.iter().map(|r| r.id));
            let eta = eta(run_started.elapsed(), this_run.len(), &checked, plan.to);
            progress(&progress_line(&checked, started.elapsed(), plan.to, eta));
        }
        if processed != last_processed {
            last_processed = processed;
            idle_since = Instant::now();
        } else {
            // Caught up with the confirmed head: wait for L1 to move.
            if idle_since.elapsed() > plan.idle_timeout {
                return Err(AuditError::NotFound(plan.to, plan.idle_timeout));
            }
            tokio::time::sleep(plan.poll).await;
        }
    }
    let records = watcher.db().batches()?;
    Ok(Report::build(&records, plan.from, plan.to, &timings, &this_run))
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

/// Time left at this run's pace in batch ids (ids are consecutive on L1).
fn eta(elapsed: Duration, done: usize, checked: &[BatchRecord], to: u64) -> Duration {
    let last = checked.last().map_or(to, |r| r.id);
    let per_batch = elapsed.as_secs_f64() / done.max(1) as f64;
    Duration::from_secs_f64(per_batch * to.saturating_sub(last) as f64)
}

/// One progress line: batches checked in a step, the newest id, L2 Mgas/s and the ETA.
fn progress_line(checked: &[BatchRecord], took: Duration, to: u64, eta: Duration) -> String {
    let gas: u64 = checked.iter().map(|r| r.l2_gas).sum();
    let last = checked.last().map_or(0, |r| r.id);
    let secs = took.as_secs_f64();
    let mgas = if secs > 0.0 { gas as f64 / 1e6 / secs } else { 0.0 };
    format!(
        "replay: checked {} batch(es) up to {last} of {to}: {:.2} Mgas in {secs:.2}s ({mgas:.2} Mgas/s), ETA {:.0}s",
        checked.len(),
        gas as f64 / 1e6,
        eta.as_secs_f64()
    )
}
