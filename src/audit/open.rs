//! Everything `replay` needs, built from a configuration: the daemon's watcher over an `RpcSource`
//! with the configured confirmations and its own state (`[store] path`), and, when asked,
//! the bundle exporter with its second L2 store.
//!
//! Input: a [`Config`] and a [`RangeOptions`]. Output: the [`Report`] of [`super::replay`].
//! With `[start] snapshot` (`replay --snapshot`), both L2 stores start from the snapshot's
//! batch instead of the genesis, and the range starts after it.
//! State files, all derived from `[store] path` (`P`): `P` (watcher L2 store),
//! `P.challenger` (cursor and batch records), `P.audit-timings.json`, and with bundles
//! `P.bundle-state` (exporter L2 store) and `P.bundle-progress`.

use super::bundle::{BundleExporter, FORMAT, Manifest};
use super::range::{Bound, Progress, Range};
use super::report::Report;
use super::{AuditError, ReplayPlan, replay};
use crate::config::Config;
use crate::daemon::{open_l2_store_over, open_watcher};
use std::path::PathBuf;
use std::time::Duration;

/// What to replay and where to put the bundle.
#[derive(Debug, Clone)]
pub struct RangeOptions {
    pub range: Range,
    pub export_bundles: Option<PathBuf>,
    /// Give up when caught up with L1 this long without seeing batch `to`.
    pub wait: Duration,
}

/// Opens the watcher (and exporter) from `config` and replays the range.
pub async fn replay_range(
    config: &Config,
    options: &RangeOptions,
    progress: impl FnMut(&Progress),
) -> Result<Report, AuditError> {
    let l1 = config.l1()?;
    if let (Some(file), Bound::Batch(from)) = (&config.start.snapshot, options.range.from) {
        let base = crate::snapshot::read_batch_id(file)?;
        if from <= base {
            return Err(AuditError::Range(format!(
                "--from {from}: the snapshot ends at batch {base}, so the range starts after it"
            )));
        }
    }
    let opened = open_watcher(config).await?;
    let (mut watcher, reader, rules) = (opened.watcher, opened.reader, opened.rules);
    let path = &config.store.path;
    let (chain, genesis) = (config.chain.chain_id, config.genesis.source()?);
    let mut exporter = match &options.export_bundles {
        None => None,
        Some(dir) => {
            let bundle_path = path.with_extension("bundle-state");
            let bundle_store = match &config.start.snapshot {
                Some(file) => {
                    crate::snapshot::open_store(&reader, config, file, &bundle_path, None).await?
                }
                None => {
                    open_l2_store_over(&reader, l1.rollup, chain, &genesis, &bundle_path).await?
                }
            };
            let header = Manifest {
                format: FORMAT.into(),
                chain_id: chain,
                fork: config.chain.fork.clone(),
                rollup: l1.rollup,
                blocks: Vec::new(),
            };
            let progress = path.with_extension("bundle-progress");
            let range = options.range;
            Some(BundleExporter::open(dir.clone(), bundle_store, rules, header, range, progress)?)
        }
    };
    let plan = ReplayPlan {
        range: options.range,
        timings: path.with_extension("audit-timings.json"),
        poll: Duration::from_millis(l1.poll_interval_ms),
        idle_timeout: options.wait,
    };
    replay(&mut watcher, &plan, exporter.as_mut(), progress).await
}
