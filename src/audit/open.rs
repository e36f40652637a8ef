//! Everything `replay` needs, built from a configuration: the watcher over an [`RpcSource`]
//! with the configured confirmations and its own state (`[store] path`), and, when asked,
//! the bundle exporter with its second L2 store.
//!
//! Input: a [`Config`] and a [`RangeOptions`]. Output: the [`Report`] of [`super::replay`].
//! State files, all derived from `[store] path` (`P`): `P` (watcher L2 store),
//! `P.challenger` (cursor and batch records), `P.audit-timings.json`, and with bundles
//! `P.bundle-state` (exporter L2 store) and `P.bundle-progress`.

use super::bundle::{BundleExporter, FORMAT, Manifest};
use super::report::Report;
use super::{AuditError, ReplayPlan, replay};
use crate::config::Config;
use crate::daemon::{open_l2_store, rules};
use crate::watcher::{RetryPolicy, RpcSource, WatchConfig, WatchDb, Watcher};
use alloy_provider::{Provider, ProviderBuilder};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What to replay and where to put the bundle.
#[derive(Debug, Clone)]
pub struct RangeOptions {
    pub from: u64,
    pub to: u64,
    pub export_bundles: Option<PathBuf>,
    /// Give up when caught up with L1 this long without seeing batch `to`.
    pub wait: Duration,
}

/// Opens the watcher (and exporter) from `config` and replays the range.
pub async fn replay_range(
    config: &Config,
    options: &RangeOptions,
    progress: impl FnMut(&str),
) -> Result<Report, AuditError> {
    let l1 = config.l1()?;
    let policy = RetryPolicy {
        attempts: l1.retry_attempts,
        max_log_range: l1.max_log_range,
        ..RetryPolicy::default()
    };
    let source = RpcSource::connect(&l1.rpc, policy).await?;
    let first = l1.rpc.first().ok_or_else(|| AuditError::L1("no [l1] rpc endpoint".into()))?;
    let reader = ProviderBuilder::new()
        .connect(first)
        .await
        .map_err(|e| AuditError::L1(e.to_string()))?
        .erased();
    let rules = rules(config)?;
    let path = &config.store.path;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| AuditError::Io { path: parent.to_path_buf(), error })?;
    }
    let (chain, users) = (config.chain.chain_id, config.genesis.dev_users);
    let store = open_l2_store(&reader, l1.rollup, chain, users, path).await?;
    let db = Arc::new(WatchDb::open(&path.with_extension("challenger"))?);
    let watch = WatchConfig {
        rollup: l1.rollup,
        confirmations: l1.confirmations,
        finalized: l1.finalized,
        start_block: l1.start_block,
        max_range: l1.max_log_range,
    };
    let mut watcher = Watcher::new(source, watch, db, Arc::new(store), rules.clone());
    let mut exporter = match &options.export_bundles {
        None => None,
        Some(dir) => {
            let bundle_store = open_l2_store(
                &reader,
                l1.rollup,
                chain,
                users,
                &path.with_extension("bundle-state"),
            )
            .await?;
            let header = Manifest {
                format: FORMAT.into(),
                chain_id: chain,
                fork: config.chain.fork.clone(),
                rollup: l1.rollup,
                blocks: Vec::new(),
            };
            let progress = path.with_extension("bundle-progress");
            let range = (options.from, options.to);
            Some(BundleExporter::open(dir.clone(), bundle_store, rules, header, range, progress)?)
        }
    };
    let plan = ReplayPlan {
        from: options.from,
        to: options.to,
        timings: path.with_extension("audit-timings.json"),
        poll: Duration::from_millis(l1.poll_interval_ms),
        idle_timeout: options.wait,
    };
    replay(&mut watcher, &plan, exporter.as_mut(), progress).await
}
