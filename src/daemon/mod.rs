//! The daemon: the watcher and, unless watch-only, the submitter, in one loop until shutdown.
//!
//! Input: the configuration and, in challenge mode, a signing key. Output: side effects on L1
//! (challenges), metrics and logs, and [`Event`]s for embedders (the demo, tests). The watcher
//! loop: one watcher step per poll (replay, findings); every lie goes through a bounded queue
//! to the submitter task or, watch-only, raises an alarm. The submitter task: plans each lie
//! (self-check, budgets, expected value), advances every unfinished intent (commit, reveal)
//! at each poll, and checks the balance against its alarm. At start, in challenge mode, the
//! contract's window is checked against the configured confirmations and L1's block time
//! ([`params`]). A failed step is logged and retried at the next poll; the daemon never
//! panics on what L1 sends it.

pub mod metrics_names;
pub mod metrics_setup;
pub mod params;
pub mod status;

use crate::bisect::Budgets;
use crate::config::{Config, Mode};
use crate::execute_local::chain::ChainRules;
use crate::execute_local::forks::{Network, network};
use crate::execute_local::store::StateStore;
use crate::rollup::{GenesisSource, NativeRollup};
use crate::submitter::{Intent, SubmitPolicy, Submitter, TxKey, TxManager, TxPolicy};
use crate::watcher::{
    BatchState, Finding, Lie, RetryPolicy, RpcSource, WatchConfig, WatchDb, Watcher,
};
use alloy_primitives::Address;
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_sol_types::SolCall;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

const TARGET: &str = "native_challenger::daemon";

/// Why the daemon could not start.
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
    Genesis(String),
    #[error("creating {}: {error}", path.display())]
    Io { path: std::path::PathBuf, error: std::io::Error },
    #[error("L1: {0}")]
    L1(String),
    #[error(
        "challenge mode needs a key: set [challenger] key_env, keystore or remote_signer, or run --watch-only"
    )]
    NoKey,
    #[error("[challenger] {0}")]
    Signer(String),
    #[error(transparent)]
    Parameters(#[from] params::ParamError),
    #[error("{0}")]
    Metrics(String),
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
    events: Option<mpsc::UnboundedSender<Event>>,
    /// What `/status` and `/healthz` report ([`status`]).
    status: status::StatusHandle,
    /// Serves them, with `/metrics`, when `[metrics] listen` is set.
    endpoint: Option<metrics_setup::Endpoint>,
    /// The batch counts of the status; `None`: count the records again.
    tally: Option<status::BatchTally>,
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
    let out = provider
        .call(request)
        .await
        .map_err(|e| DaemonError::L1(format!("reading the rollup's genesis: {e}")))?;
    let genesis_batch = NativeRollup::batchCall::abi_decode_returns(&out)
        .map_err(|e| DaemonError::L1(format!("{rollup} is not a rollup contract: {e}")))?;
    let genesis = genesis
        .matching(chain_id, genesis_batch.lastTimestamp, genesis_batch.lastStateRoot)
        .map_err(DaemonError::Genesis)?;
    let store = StateStore::open(path)?;
    genesis.init_store(&store).map_err(|e| DaemonError::Genesis(e.to_string()))?;
    Ok(store)
}

/// The chain rules of `[chain]`.
pub fn rules(config: &Config) -> Result<ChainRules, DaemonError> {
    match network(&config.chain.fork) {
        Network::Supported(schedule) => Ok(ChainRules::new(config.chain.chain_id, schedule)),
        Network::Skipped { reason } => Err(DaemonError::Genesis(reason)),
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
/// the rollup's genesis) and the challenger's records beside it (`<path>.challenger`).
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
        .map_err(|e| DaemonError::L1(e.to_string()))?
        .erased();
    let rules = rules(config)?;
    let path = &config.store.path;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|error| DaemonError::Io { path: parent.to_path_buf(), error })?;
    }
    let genesis = config.genesis.source()?;
    let store =
        open_l2_store_over(&reader, l1.rollup, config.chain.chain_id, &genesis, path).await?;
    let db = Arc::new(WatchDb::open(&path.with_extension("challenger"))?);
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
            events: None,
            status,
            endpoint,
            tally,
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

    /// Runs until `shutdown` turns true. The watcher runs here; the submitter, unless
    /// watch-only, in a task of its own fed through a bounded queue, so a challenge waiting
    /// for its confirmations never holds up reorg detection or the next lie. Both stop at
    /// the next await point on shutdown (every intent is persisted before each send).
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(target: TARGET, challenger = ?self.challenger(), "daemon started");
        let (lies, queue) = mpsc::channel(LIE_QUEUE);
        let submitting = self.submitter.take().map(|submitter| {
            let task = SubmitTask {
                submitter,
                rules: self.rules.clone(),
                poll: self.poll,
                min_balance: self.min_balance,
                events: self.events.clone(),
                status: self.status.clone(),
            };
            tokio::spawn(task.run(queue, shutdown.clone()))
        });
        let lies = submitting.as_ref().map(|_| lies);
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = self.poll_once(lies.as_ref()) => {}
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
        drop(lies);
        if let Some(task) = submitting
            && let Err(err) = task.await
        {
            tracing::error!(target: TARGET, %err, "the submitter task failed");
        }
        tracing::info!(target: TARGET, "daemon stopped");
    }

    fn emit(&self, event: Event) {
        if let Some(tx) = &self.events {
            let _ = tx.send(event);
        }
    }

    /// One watcher step; each lie goes to the submitter's queue (or, watch-only, raises the
    /// alarm).
    async fn poll_once(&mut self, lies: Option<&mpsc::Sender<(Lie, u64)>>) {
        let findings = match self.watcher.step().await {
            Ok((findings, processed, head)) => {
                self.report_step(&findings, processed, head.number);
                findings
            }
            Err(err) => {
                self.report_error(&err);
                tracing::warn!(target: TARGET, %err, "watcher step failed; retrying at the next poll");
                return;
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

/// The submitter's own task: takes the lies the watcher queues and advances every open
/// intent at each poll.
struct SubmitTask {
    submitter: Submitter,
    rules: ChainRules,
    poll: Duration,
    min_balance: u128,
    events: Option<mpsc::UnboundedSender<Event>>,
    status: status::StatusHandle,
}

impl SubmitTask {
    async fn run(self, mut queue: mpsc::Receiver<(Lie, u64)>, mut shutdown: watch::Receiver<bool>) {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = self.resume() => {}
        }
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                _ = shutdown.changed() => break,
                next = queue.recv() => match next {
                    Some((lie, descendants)) => {
                        let intent = self.submitter.take(&self.rules, &lie, descendants).await;
                        self.emit(Event::Intent(intent));
                    }
                    None => break,
                },
                _ = tokio::time::sleep(self.poll) => {}
            }
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = self.advance_open() => {}
            }
        }
    }

    fn emit(&self, event: Event) {
        if let Some(tx) = &self.events {
            let _ = tx.send(event);
        }
    }

    /// Advances the intents a previous run left unfinished.
    async fn resume(&self) {
        match self.submitter.open_intents() {
            Ok(open) => {
                for intent in open {
                    tracing::info!(target: TARGET, batch = intent.batch_id, stage = ?intent.stage, "resuming challenge");
                    let intent = self.submitter.advance(intent).await;
                    self.emit(Event::Intent(intent));
                }
            }
            Err(err) => tracing::error!(target: TARGET, %err, "reading unfinished challenges"),
        }
    }

    async fn advance_open(&self) {
        let open = match self.submitter.open_intents() {
            Ok(open) => open,
            Err(err) => {
                tracing::error!(target: TARGET, %err, "reading challenges");
                return;
            }
        };
        for intent in self.submitter.reopen_undone().await {
            self.emit(Event::Intent(intent));
        }
        for intent in open {
            let before = intent.clone();
            let after = self.submitter.advance(intent).await;
            if after != before {
                self.emit(Event::Intent(after));
            }
        }
        self.check_balance().await;
        self.report().await;
    }

    async fn check_balance(&self) {
        let me = self.submitter.address();
        if let Ok(balance) = self.submitter.tx_manager().provider().get_balance(me).await {
            metrics::gauge!(metrics_names::SUBMITTER_BALANCE_WEI).set(f64::from(balance));
            self.report_balance(balance);
            if balance < alloy_primitives::U256::from(self.min_balance) {
                tracing::error!(target: TARGET, %balance, min = self.min_balance, "ALARM: the challenger's gas balance is low");
            }
        }
    }
}

async fn submitter(
    config: &Config,
    signer: TxKey,
    db: Arc<WatchDb>,
) -> Result<Submitter, DaemonError> {
    let l1 = config.l1()?;
    if let TxKey::Remote(remote) = &signer {
        remote.check().await.map_err(DaemonError::Signer)?;
    }
    let provider = ProviderBuilder::new()
        .connect(&l1.rpc[0])
        .await
        .map_err(|e| DaemonError::L1(e.to_string()))?
        .erased();
    let chain_id = provider.get_chain_id().await.map_err(|e| DaemonError::L1(e.to_string()))?;
    let c = &config.challenger;
    let tx_policy = tx_policy(config);
    let policy = SubmitPolicy {
        budgets: Budgets { max_tx_size: c.max_tx_size, ..Budgets::default() },
        challenge_always: c.challenge_always || c.mode == Mode::Watchtower,
        auto_deposit: c.auto_deposit,
        auto_claim: c.auto_claim,
    };
    let tx = TxManager::new(provider, signer, chain_id, tx_policy);
    let window = read_u64(tx.provider(), l1.rollup, NativeRollup::CHALLENGE_WINDOWCall {})
        .await
        .map_err(|e| DaemonError::L1(format!("reading CHALLENGE_WINDOW: {e}")))?;
    let max_l2_gas_limit =
        read_u64(tx.provider(), l1.rollup, NativeRollup::MAX_L2_GAS_LIMITCall {})
            .await
            .map_err(|e| DaemonError::L1(format!("reading MAX_L2_GAS_LIMIT: {e}")))?;
    let timing =
        params::Timing::read(tx.provider(), config, window, max_l2_gas_limit, policy.budgets)
            .await?;
    timing.check()?;
    Ok(Submitter::new(tx, l1.rollup, db, policy, window))
}

/// A `uint64` view of the rollup contract.
async fn read_u64<C: SolCall<Return = u64>>(
    provider: &DynProvider,
    rollup: Address,
    call: C,
) -> Result<u64, String> {
    let request = alloy_rpc_types_eth::TransactionRequest::default()
        .to(rollup)
        .input(call.abi_encode().into());
    let out = provider.call(request).await.map_err(|e| e.to_string())?;
    C::abi_decode_returns(&out).map_err(|e| e.to_string())
}

/// The transaction manager's policy from `[challenger]`.
pub fn tx_policy(config: &Config) -> TxPolicy {
    let c = &config.challenger;
    TxPolicy {
        confirmations: c.confirmations,
        resubmit_after: Duration::from_secs(c.resubmit_after_secs),
        fee_bump_percent: c.fee_bump_percent,
        max_fee_per_gas: u128::from(c.max_fee_gwei) * 1_000_000_000,
        ..TxPolicy::default()
    }
}
