//! The daemon: the watcher and, unless watch-only, the submitter, in one loop until shutdown.
//!
//! Input: the configuration and, in challenge mode, a signing key. Output: side effects on L1
//! (challenges), metrics and logs, and [`Event`]s for embedders (the demo, tests). The watcher
//! loop: one watcher step per poll (replay, findings); every lie goes through a bounded queue
//! to the submitter task or, watch-only, raises an alarm. The submitter task: plans each lie
//! (self-check, budgets, expected value), starts advancing every unfinished intent (commit,
//! reveal) at each poll, each in a task of its own with a bound on how many run at once, and
//! checks the balance against its alarm. At start, in challenge mode, the
//! contract's window is checked against the configured confirmations and L1's block time
//! ([`params`]). A failed step is acted on by its [`Severity`]: retried after a backoff,
//! read again from the next endpoint (rewind), or, fatal, the daemon stops with the error; a
//! failure that recurs is reported once as such ([`Recurrence`]). The daemon never panics on
//! what L1 sends it.

pub mod metrics_names;
pub mod metrics_setup;
pub mod params;
pub mod status;
mod submitting;

pub use submitting::tx_policy;
use submitting::{SubmitTask, submitter};

use crate::config::{Config, Mode};
use crate::execute_local::chain::ChainRules;
use crate::execute_local::forks::{Network, network};
use crate::execute_local::store::StateStore;
use crate::rollup::{GenesisSource, NativeRollup};
use crate::severity::{self, Classify, Recurrence, Recurring, Severity, Transition};
use crate::submitter::{Intent, Submitter, TxKey};
use crate::watcher::{
    BatchState, Finding, Lie, RetryPolicy, RpcSource, WatchConfig, WatchDb, WatchError, Watcher,
};
use alloy_primitives::Address;
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_sol_types::SolCall;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

const TARGET: &str = "native_challenger::daemon";

/// Why the daemon could not start, or (`Watch`) why it stopped. Each says what to do about
/// it ([`Classify`]): a fatal one is reported and exits; a start-up error of severity retry
/// (L1 unreachable) may succeed when started again.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Source(#[from] crate::watcher::SourceError),
    #[error(transparent)]
    Db(#[from] crate::watcher::db::DbError),
    #[error(transparent)]
    Store(#[from] crate::execute_local::store::StoreError),
    #[error("genesis: {0}")]
    Genesis(#[from] crate::rollup::genesis::GenesisInitError),
    #[error("the rollup's genesis is not this chain's: {reason}")]
    GenesisMismatch { reason: String },
    #[error("[chain] fork {fork:?}: {reason}")]
    UnsupportedFork { fork: String, reason: String },
    #[error("snapshot: {0}")]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error("creating {}: {error}", path.display())]
    Io { path: std::path::PathBuf, error: std::io::Error },
    #[error("L1: {what}: {error}")]
    L1 { what: &'static str, error: alloy_provider::transport::TransportError },
    #[error("{address} is not a rollup contract ({what}: {error})")]
    NotRollup { address: Address, what: &'static str, error: alloy_sol_types::Error },
    #[error(
        "challenge mode needs a key: set [challenger] key_env, keystore or remote_signer, or run --watch-only"
    )]
    NoKey,
    #[error("[challenger] {reason}")]
    Signer { reason: String },
    #[error(transparent)]
    Parameters(#[from] params::ParamError),
    #[error(transparent)]
    Metrics(#[from] metrics_setup::EndpointError),
    /// The watcher failed with a fatal error: the daemon stopped.
    #[error("the watcher failed: {0}")]
    Watch(#[from] WatchError),
}

/// What the daemon did, for embedders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Finding(Finding),
    Intent(Intent),
}

/// Lies waiting for the submitter; the watcher waits when it is full (each lie is persisted
/// as an intent at once, so a full queue means a submitter busy planning, never lost lies).
const LIE_QUEUE: usize = 64;

/// The running parts.
pub struct Daemon {
    watcher: Watcher<RpcSource>,
    submitter: Option<Submitter>,
    rules: ChainRules,
    poll: Duration,
    min_balance: u128,
    /// The most intents advanced at once (`[challenger] max_concurrent_intents`).
    concurrency: usize,
    events: Option<mpsc::UnboundedSender<Event>>,
    /// What `/status` and `/healthz` report ([`status`]).
    status: status::StatusHandle,
    /// Serves them, with `/metrics`, when `[metrics] listen` is set.
    endpoint: Option<metrics_setup::Endpoint>,
    /// The batch counts of the status; `None`: count the records again.
    tally: Option<status::BatchTally>,
    /// Failed steps of the same kind in a row, for the recurrence alarm.
    recurrence: Recurrence,
}

/// Opens the L2 store at the rollup's genesis (read back from the contract's batch 0 and
/// checked against the dev genesis of this chain id with `users` dev users).
pub async fn open_l2_store(
    provider: &DynProvider,
    rollup: Address,
    chain_id: u64,
    users: usize,
    path: &Path,
) -> Result<StateStore, DaemonError> {
    open_l2_store_over(provider, rollup, chain_id, &GenesisSource::Dev { users }, path).await
}

/// [`open_l2_store`] checked against `genesis`.
pub async fn open_l2_store_over(
    provider: &DynProvider,
    rollup: Address,
    chain_id: u64,
    genesis: &GenesisSource,
    path: &Path,
) -> Result<StateStore, DaemonError> {
    let call = NativeRollup::batchCall { batchId: 0 };
    let request = alloy_rpc_types_eth::TransactionRequest::default()
        .to(rollup)
        .input(call.abi_encode().into());
    let what = "reading the rollup's genesis (batch 0)";
    let out = provider.call(request).await.map_err(|error| DaemonError::L1 { what, error })?;
    let genesis_batch = NativeRollup::batchCall::abi_decode_returns(&out)
        .map_err(|error| DaemonError::NotRollup { address: rollup, what, error })?;
    let genesis = genesis
        .matching(chain_id, genesis_batch.lastTimestamp, genesis_batch.lastStateRoot)
        .map_err(|reason| DaemonError::GenesisMismatch { reason })?;
    let store = StateStore::open(path)?;
    genesis.init_store(&store)?;
    Ok(store)
}

/// The chain rules of `[chain]`.
pub fn rules(config: &Config) -> Result<ChainRules, DaemonError> {
    match network(&config.chain.fork) {
        Network::Supported(schedule) => Ok(ChainRules::new(config.chain.chain_id, schedule)),
        Network::Skipped { reason } => {
            Err(DaemonError::UnsupportedFork { fork: config.chain.fork.clone(), reason })
        }
    }
}

/// The watcher of a configuration, with what it was opened from.
pub struct OpenedWatcher {
    pub watcher: Watcher<RpcSource>,
    pub db: Arc<WatchDb>,
    /// A plain provider on the first endpoint.
    pub reader: DynProvider,
    pub rules: ChainRules,
}

/// Connects to `[l1]` and opens the L2 store (`[store] path`, created if needed, checked against
/// the rollup's genesis, or started from `[start] snapshot`) and the challenger's records
/// beside it (`<path>.challenger`).
pub async fn open_watcher(config: &Config) -> Result<OpenedWatcher, DaemonError> {
    let l1 = config.l1()?;
    let policy = RetryPolicy {
        attempts: l1.retry_attempts,
        max_log_range: l1.max_log_range,
        ..RetryPolicy::default()
    };
    let source = RpcSource::connect(&l1.rpc, policy).await?;
    let first = l1.rpc.first().ok_or(crate::config::ConfigError::NoEndpoint)?;
    let reader = ProviderBuilder::new()
        .connect(first)
        .await
        .map_err(|error| DaemonError::L1 { what: "connecting", error })?
        .erased();
    let rules = rules(config)?;
    let path = &config.store.path;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|error| DaemonError::Io { path: parent.to_path_buf(), error })?;
    }
    let genesis = config.genesis.source()?;
    let db = Arc::new(WatchDb::open(&path.with_extension("challenger"))?);
    let store = match &config.start.snapshot {
        Some(file) => crate::snapshot::open_store(&reader, config, file, path, Some(&db)).await?,
        None => {
            open_l2_store_over(&reader, l1.rollup, config.chain.chain_id, &genesis, path).await?
        }
    };
    let watch = WatchConfig {
        rollup: l1.rollup,
        confirmations: l1.confirmations,
        finalized: l1.finalized,
        start_block: l1.start_block,
        max_range: l1.max_log_range,
    };
    let watcher = Watcher::new(source, watch, db.clone(), Arc::new(store), rules.clone());
    Ok(OpenedWatcher { watcher, db, reader, rules })
}

impl Daemon {
    /// Connects and opens everything. `key` is required unless `watch_only`.
    pub async fn build(
        config: &Config,
        key: Option<TxKey>,
        watch_only: bool,
    ) -> Result<Self, DaemonError> {
        let l1 = config.l1()?;
        let watch_only = watch_only || config.challenger.mode == Mode::WatchOnly;
        let poll = Duration::from_millis(l1.poll_interval_ms);
        let account = key.as_ref().filter(|_| !watch_only).map(TxKey::address);
        let (status, endpoint) = status::open_status(config, watch_only, account, poll).await?;
        let opened = open_watcher(config).await?;
        let (watcher, db, rules) = (opened.watcher, opened.db, opened.rules);
        let submitter = match (watch_only, key) {
            (true, _) => None,
            (false, None) => return Err(DaemonError::NoKey),
            (false, Some(signer)) => Some(submitter(config, signer, db.clone()).await?),
        };
        let tally = status::initial(&status, &db);
        Ok(Self {
            watcher,
            submitter,
            rules,
            poll,
            min_balance: config.challenger.min_balance_wei,
            concurrency: config.challenger.max_concurrent_intents,
            events: None,
            status,
            endpoint,
            tally,
            recurrence: Recurrence::new(config.metrics.failure_alarm_after),
        })
    }

    /// Sends every finding and intent change to `events` as well.
    pub fn with_events(mut self, events: mpsc::UnboundedSender<Event>) -> Self {
        self.events = Some(events);
        self
    }

    pub fn challenger(&self) -> Option<Address> {
        self.submitter.as_ref().map(Submitter::address)
    }

    /// Runs until `shutdown` turns true, or until the watcher fails with a fatal error
    /// (returned; the status's `fatal` says it). The watcher runs here; the submitter, unless
    /// watch-only, in a task of its own fed through a bounded queue, so a challenge waiting
    /// for its confirmations never holds up reorg detection or the next lie. Both stop at
    /// the next await point on shutdown or a fatal error (every intent is persisted before
    /// each send). A failed step is tried again as its severity says: after a backoff
    /// (retry) or at the next poll from the next endpoint (rewind).
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), DaemonError> {
        tracing::info!(target: TARGET, challenger = ?self.challenger(), "daemon started");
        let (lies, queue) = mpsc::channel(LIE_QUEUE);
        let submitting = self.submitter.take().map(|submitter| {
            let task = SubmitTask {
                submitter,
                rules: self.rules.clone(),
                poll: self.poll,
                min_balance: self.min_balance,
                concurrency: self.concurrency,
                events: self.events.clone(),
                status: self.status.clone(),
            };
            tokio::spawn(task.run(queue, shutdown.clone()))
        });
        let lies = submitting.as_ref().map(|_| lies);
        let mut fatal = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let outcome = tokio::select! {
                _ = shutdown.changed() => break,
                outcome = self.poll_once(lies.as_ref()) => outcome,
            };
            let wait = match outcome {
                Ok(()) => self.poll,
                Err(err) if err.severity() == Severity::Fatal => {
                    fatal = Some(err);
                    break;
                }
                Err(err) if err.severity() == Severity::Retry => {
                    severity::backoff(self.poll, self.recurrence.count())
                }
                Err(_) => self.poll,
            };
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        drop(lies);
        if let Some(task) = submitting {
            if fatal.is_some() {
                task.abort();
            }
            match task.await {
                Err(err) if !err.is_cancelled() => {
                    tracing::error!(target: TARGET, %err, "the submitter task failed")
                }
                _ => {}
            }
        }
        match fatal {
            Some(err) => {
                tracing::error!(target: TARGET, %err, kind = err.kind(), "daemon stopped on a fatal error");
                Err(DaemonError::Watch(err))
            }
            None => {
                tracing::info!(target: TARGET, "daemon stopped");
                Ok(())
            }
        }
    }

    fn emit(&self, event: Event) {
        if let Some(tx) = &self.events {
            let _ = tx.send(event);
        }
    }

    /// One watcher step; each lie goes to the submitter's queue (or, watch-only, raises the
    /// alarm). A failure is reported ([`Self::on_failure`]) and returned.
    async fn poll_once(
        &mut self,
        lies: Option<&mpsc::Sender<(Lie, u64)>>,
    ) -> Result<(), WatchError> {
        let findings = match self.watcher.step().await {
            Ok((findings, processed, head)) => {
                self.report_step(&findings, processed, head.number);
                self.on_success();
                findings
            }
            Err(err) => {
                self.on_failure(&err);
                return Err(err);
            }
        };
        for finding in findings {
            if let Finding::Lie(lie) = &finding {
                match lies {
                    Some(queue) => {
                        let descendants = self.descendants(lie);
                        if queue.send((lie.clone(), descendants)).await.is_err() {
                            tracing::error!(target: TARGET, batch = lie.batch_id, "the submitter has stopped; lie not queued");
                        }
                    }
                    None => {
                        tracing::error!(target: TARGET, batch = lie.batch_id, index = lie.index, "ALARM (watch-only): wrong checkpoint; nobody here will challenge it");
                        metrics::counter!(metrics_names::DAEMON_UNCHALLENGED_LIES).increment(1);
                    }
                }
            }
            self.emit(Event::Finding(finding));
        }
        Ok(())
    }

    /// A failed step: counted by severity and kind, logged once per failure until it recurs
    /// (then one alarm, and nothing more until it clears), and shown in the status.
    fn on_failure(&mut self, err: &WatchError) {
        let (severity, kind) = (err.severity(), err.kind());
        metrics::counter!(metrics_names::DAEMON_STEP_FAILURES, "severity" => severity.as_str(), "kind" => kind)
            .increment(1);
        self.report_error(err);
        if severity == Severity::Fatal {
            tracing::error!(target: TARGET, %err, kind, "FATAL: the watcher cannot go on; stopping");
            self.status.update(|s| s.fatal = Some(err.to_string()));
            return;
        }
        let now = status::unix_now();
        match self.recurrence.failure(err, now) {
            Transition::Failed { count } => {
                tracing::warn!(target: TARGET, %err, %severity, kind, count, "watcher step failed; trying again");
            }
            Transition::Escalated(recurring) => {
                tracing::error!(target: TARGET, %err, %severity, kind, count = recurring.count, since_unix = recurring.since_unix, "ALARM: the watcher step keeps failing the same way; logged again only when it clears");
                metrics::gauge!(metrics_names::DAEMON_RECURRING_FAILURE).set(1.0);
                self.status.update(|s| s.recurring_failure = Some(recurring));
            }
            Transition::StillRecurring { count } => {
                tracing::debug!(target: TARGET, %err, kind, count, "watcher step failed again");
                self.status.update(|s| {
                    if let Some(r) = s.recurring_failure.as_mut() {
                        r.count = count;
                        r.error = err.to_string();
                    }
                });
            }
            Transition::Cleared(old) => {
                self.cleared(&old);
                tracing::warn!(target: TARGET, %err, %severity, kind, count = 1, "watcher step failed; trying again");
            }
            Transition::Quiet => {}
        }
    }

    /// A successful step ends a recurring failure.
    fn on_success(&mut self) {
        if let Transition::Cleared(old) = self.recurrence.success() {
            self.cleared(&old);
        }
    }

    fn cleared(&self, old: &Recurring) {
        tracing::info!(target: TARGET, kind = %old.kind, count = old.count, since_unix = old.since_unix, "the recurring watcher failure has cleared");
        metrics::gauge!(metrics_names::DAEMON_RECURRING_FAILURE).set(0.0);
        self.status.update(|s| s.recurring_failure = None);
    }

    /// Pending batches built on the lie's (the conviction invalidates them too).
    fn descendants(&self, lie: &Lie) -> u64 {
        self.watcher
            .db()
            .batches_from(lie.batch_id + 1)
            .map(|all| all.iter().filter(|b| b.state == BatchState::Pending).count() as u64)
            .unwrap_or(0)
    }
}
