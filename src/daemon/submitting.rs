//! The submitter's side of the daemon: building the submitter from `[challenger]` (key,
//! endpoints with broadcast failover, the contract's window and limits checked against the
//! deployment parameters) and the task that runs it.

use super::{DaemonError, Event, TARGET, metrics_names, params, status};
use crate::bisect::Budgets;
use crate::config::{Config, Mode};
use crate::execute_local::chain::ChainRules;
use crate::rollup::NativeRollup;
use crate::submitter::{Advancing, SubmitPolicy, Submitter, TxKey, TxManager, TxPolicy};
use crate::watcher::{Lie, WatchDb};
use alloy_primitives::Address;
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_sol_types::SolCall;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The submitter's own task: takes the lies the watcher queues and, at each poll, starts
/// advancing every open intent not already in flight, each in a task of its own with at most
/// `[challenger] max_concurrent_intents` at once ([`Advancing`]): a challenge waiting for a
/// receipt never holds up another. Shutdown cancels the advances at their next await point.
pub(super) struct SubmitTask {
    pub(super) submitter: Submitter,
    pub(super) rules: ChainRules,
    pub(super) poll: Duration,
    pub(super) min_balance: u128,
    pub(super) concurrency: usize,
    pub(super) events: Option<mpsc::UnboundedSender<Event>>,
    pub(super) status: status::StatusHandle,
}

impl SubmitTask {
    pub(super) async fn run(
        self,
        mut queue: mpsc::Receiver<(Lie, u64)>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut advancing = Advancing::new(self.concurrency);
        self.resume(&mut advancing);
        let mut tick = tokio::time::interval(self.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                _ = shutdown.changed() => break,
                next = queue.recv() => match next {
                    Some((lie, descendants)) => {
                        let intent = tokio::select! {
                            _ = shutdown.changed() => break,
                            intent = self.submitter.take(&self.rules, &lie, descendants) => intent,
                        };
                        self.emit(Event::Intent(intent));
                        self.start_open(&mut advancing);
                    }
                    None => break,
                },
                Some((before, after)) = advancing.next(), if !advancing.is_empty() => {
                    if after != before {
                        self.emit(Event::Intent(after));
                        self.report_intents();
                    }
                }
                _ = tick.tick() => {
                    tokio::select! {
                        _ = shutdown.changed() => break,
                        _ = self.poll_round(&mut advancing) => {}
                    }
                }
            }
        }
        advancing.shutdown().await;
    }

    fn emit(&self, event: Event) {
        if let Some(tx) = &self.events {
            let _ = tx.send(event);
        }
    }

    /// Starts the intents a previous run left unfinished.
    fn resume(&self, advancing: &mut Advancing) {
        match self.submitter.open_intents() {
            Ok(open) => {
                for intent in &open {
                    tracing::info!(target: TARGET, batch = intent.batch_id, stage = ?intent.stage, "resuming challenge");
                }
                advancing.start(&self.submitter, open);
            }
            Err(err) => tracing::error!(target: TARGET, %err, "reading unfinished challenges"),
        }
    }

    /// Starts every open intent not in flight (up to the bound).
    fn start_open(&self, advancing: &mut Advancing) {
        match self.submitter.open_intents() {
            Ok(open) => {
                advancing.start(&self.submitter, open);
            }
            Err(err) => tracing::error!(target: TARGET, %err, "reading challenges"),
        }
    }

    /// One poll: reopens convictions a reorg undid, starts the open intents, checks the
    /// balance and reports.
    async fn poll_round(&self, advancing: &mut Advancing) {
        for intent in self.submitter.reopen_undone(advancing.busy()).await {
            self.emit(Event::Intent(intent));
        }
        self.start_open(advancing);
        self.check_balance().await;
        self.report().await;
    }

    async fn check_balance(&self) {
        if let Ok(balance) = self.submitter.balance().await {
            metrics::gauge!(metrics_names::SUBMITTER_BALANCE_WEI).set(f64::from(balance));
            self.report_balance(balance);
            if balance < alloy_primitives::U256::from(self.min_balance) {
                tracing::error!(target: TARGET, %balance, min = self.min_balance, "ALARM: the challenger's gas balance is low");
            }
        }
    }
}

pub(super) async fn submitter(
    config: &Config,
    signer: TxKey,
    db: Arc<WatchDb>,
) -> Result<Submitter, DaemonError> {
    let l1 = config.l1()?;
    if let TxKey::Remote(remote) = &signer {
        remote.check().await.map_err(|reason| DaemonError::Signer { reason })?;
    }
    let provider = ProviderBuilder::new()
        .connect(&l1.rpc[0])
        .await
        .map_err(|error| DaemonError::L1 { what: "connecting", error })?
        .erased();
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|error| DaemonError::L1 { what: "reading the chain id", error })?;
    let c = &config.challenger;
    let tx_policy = tx_policy(config);
    let policy = SubmitPolicy {
        budgets: Budgets { max_tx_size: c.max_tx_size, ..Budgets::default() },
        challenge_always: c.challenge_always || c.mode == Mode::Watchtower,
        auto_deposit: c.auto_deposit,
        auto_claim: c.auto_claim,
    };
    // Broadcasts fail over to the other endpoints, in order; reads stay on the first.
    let mut fallbacks = Vec::new();
    for url in l1.rpc.iter().skip(1) {
        let fallback = ProviderBuilder::new()
            .connect(url)
            .await
            .map_err(|error| DaemonError::L1 { what: "connecting to a fallback endpoint", error })?
            .erased();
        fallbacks.push(fallback);
    }
    let tx = TxManager::new(provider, signer, chain_id, tx_policy).with_fallbacks(fallbacks);
    let window = read_u64(tx.provider(), l1.rollup, NativeRollup::CHALLENGE_WINDOWCall {}).await?;
    let max_l2_gas_limit =
        read_u64(tx.provider(), l1.rollup, NativeRollup::MAX_L2_GAS_LIMITCall {}).await?;
    let timing =
        params::Timing::read(tx.provider(), config, window, max_l2_gas_limit, policy.budgets)
            .await?;
    timing.check()?;
    Ok(Submitter::over_rpc(tx, l1.rollup, db, policy, window))
}

/// A `uint64` view of the rollup contract.
async fn read_u64<C: SolCall<Return = u64>>(
    provider: &DynProvider,
    rollup: Address,
    call: C,
) -> Result<u64, DaemonError> {
    let request = alloy_rpc_types_eth::TransactionRequest::default()
        .to(rollup)
        .input(call.abi_encode().into());
    let what = C::SIGNATURE;
    let out = provider.call(request).await.map_err(|error| DaemonError::L1 { what, error })?;
    C::abi_decode_returns(&out).map_err(|error| DaemonError::NotRollup {
        address: rollup,
        what,
        error,
    })
}

/// The transaction manager's policy from `[challenger]`.
pub fn tx_policy(config: &Config) -> TxPolicy {
    let c = &config.challenger;
    TxPolicy {
        confirmations: c.confirmations,
        resubmit_after: Duration::from_secs(c.resubmit_after_secs),
        fee_bump_percent: c.fee_bump_percent,
        max_fee_per_gas: u128::from(c.max_fee_gwei) * 1_000_000_000,
        send_timeout: Duration::from_secs(c.send_timeout_secs),
        ..TxPolicy::default()
    }
}
