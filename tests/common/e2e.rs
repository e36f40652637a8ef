//! End-to-end harness: the dev L1 (interval mining), the rollup contract, a proposer, and
//! challenger daemons built from real configurations, all in one process.

use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use native_challenger::config::Config;
use native_challenger::daemon::{Daemon, Event};
use native_challenger::devnet::{Devnet, DevnetConfig};
use native_challenger::proposer::driver::{
    DEV_L2_USERS, ProposePlan, deploy_rollup, open_proposer_over, propose_next, signing_provider,
};
use native_challenger::proposer::{Fault, PlannedBatch, Proposer, WorkloadSpec};
use native_challenger::rollup::{GenesisSource, RollupClient, RollupParams};
use native_challenger::submitter::{Intent, Stage, TxKey};
use native_challenger::watcher::Finding;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

pub const CHAIN_ID: u64 = 901;
pub const BLOCKS: usize = 2;

pub struct E2e {
    pub node: Devnet,
    pub client: RollupClient,
    pub params: RollupParams,
    pub proposer: Proposer,
    pub dir: tempfile::TempDir,
}

/// A running daemon and what it reports.
pub struct Running {
    pub stop: watch::Sender<bool>,
    pub handle: tokio::task::JoinHandle<Result<(), native_challenger::daemon::DaemonError>>,
    pub events: mpsc::UnboundedReceiver<Event>,
    pub seen: Vec<Event>,
}

pub fn dev_key(index: usize, node: &Devnet) -> alloy_signer_local::PrivateKeySigner {
    alloy_signer_local::PrivateKeySigner::from_bytes(&node.accounts[index].private_key)
        .expect("dev key")
}

impl E2e {
    pub async fn new(window: u64, block_time: Duration) -> Self {
        Self::with_devnet(
            window,
            DevnetConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                block_time: Some(block_time),
                ..DevnetConfig::default()
            },
        )
        .await
    }

    /// [`Self::new`] on a dev L1 configured by `devnet` (e.g. a smaller EXECUTE budget).
    pub async fn with_devnet(window: u64, devnet: DevnetConfig) -> Self {
        Self::with_genesis(window, devnet, &GenesisSource::Dev { users: DEV_L2_USERS }).await
    }

    /// [`Self::with_devnet`] with the rollup and the proposer over `genesis`.
    pub async fn with_genesis(window: u64, devnet: DevnetConfig, genesis: &GenesisSource) -> Self {
        let node = Devnet::spawn(devnet).await.expect("dev L1");
        let key = dev_key(0, &node);
        let from = key.address();
        let provider = signing_provider(&node.http_url, key).expect("provider");
        let (client, params, _) =
            deploy_rollup(provider, from, CHAIN_ID, genesis, |p| p.challenge_window = window)
                .await
                .expect("deploy");
        let dir = tempfile::tempdir().expect("tempdir");
        let plan = plan(params.max_l2_gas_limit);
        let store = dir.path().join("proposer");
        let proposer =
            open_proposer_over(&client, CHAIN_ID, genesis, &store, &plan).await.expect("proposer");
        Self { node, client, params, proposer, dir }
    }

    /// A daemon configuration over `url` (default: the dev L1) keeping its state in `name`.
    pub fn config(&self, name: &str, url: Option<&str>) -> Config {
        let rpc = url.unwrap_or(&self.node.http_url);
        let mut config = Config::dev(CHAIN_ID, rpc, self.client.address(), self.state_dir(name));
        config.challenger.resubmit_after_secs = 4;
        config
    }

    pub fn state_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name).join("l2")
    }

    /// [`Self::start`] once the rollup's deployment is at the watcher's depth.
    ///
    /// Works around a watcher bug: when the first range the watcher reads ends before the
    /// block that deployed the rollup, `batchCount()` is called at a block where the contract
    /// has no code, the empty answer "does not decode" and is retried with backoff 8 times
    /// (~23 s) before the step fails, which is longer than the tests' windows.
    pub async fn start_at_depth(&self, config: &Config, key_index: usize) -> Running {
        let depth = config.l1.as_ref().expect("[l1]").confirmations;
        let provider = self.client.provider();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let head = provider.get_block_number().await.expect("head");
            let at = head.saturating_sub(depth);
            let code = provider.get_code_at(self.client.address()).number(at).await.expect("code");
            if !code.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "the rollup never reached depth {depth}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.start(config, Some(key_index)).await
    }

    pub async fn start(&self, config: &Config, key_index: Option<usize>) -> Running {
        let key = key_index.map(|i| TxKey::from(dev_key(i, &self.node)));
        self.start_with(config, key).await
    }

    /// The daemon with `key` (watch-only without one).
    pub async fn start_with(&self, config: &Config, key: Option<TxKey>) -> Running {
        std::fs::create_dir_all(config.store.path.parent().unwrap_or(Path::new("."))).expect("dir");
        let (tx, events) = mpsc::unbounded_channel();
        let watch_only = key.is_none();
        let daemon = Daemon::build(config, key, watch_only).await.expect("daemon").with_events(tx);
        let (stop, rx) = watch::channel(false);
        let handle = tokio::spawn(daemon.run(rx));
        Running { stop, handle, events, seen: Vec::new() }
    }

    pub async fn propose(&mut self, fault: Option<Fault>) -> (u64, PlannedBatch) {
        let (id, batch, _) =
            propose_next(&self.client, &mut self.proposer, BLOCKS, fault).await.expect("propose");
        (id, batch)
    }

    /// Replaces L1 from block `from` to the head with new blocks holding the same
    /// transactions except `tx` (the dev L1's `devnet_reorg`). The dev L1 may mine between
    /// reading the head and the reorg, which then starts a block too late and misses `tx`:
    /// the reorg is repeated until `tx` is gone.
    pub async fn reorg_out(&self, from: u64, tx: alloy_primitives::B256) {
        use alloy_provider::Provider;
        let provider = self.client.provider();
        for _ in 0..5 {
            let head = provider.get_block_number().await.expect("head");
            let _: serde_json::Value = provider
                .raw_request(
                    "devnet_reorg".into(),
                    (serde_json::json!({"depth": head - from + 1, "drop": [tx]}),),
                )
                .await
                .expect("reorg");
            if provider.get_transaction_receipt(tx).await.expect("receipt").is_none() {
                return;
            }
        }
        panic!("{tx} survived five reorgs from block {from}");
    }

    pub async fn balance(&self, who: Address) -> U256 {
        self.client.provider().get_balance(who).await.expect("balance")
    }

    pub async fn nonce(&self, who: Address) -> u64 {
        self.client.provider().get_transaction_count(who).await.expect("nonce")
    }

    pub async fn status(&self, id: u64) -> u8 {
        self.client.batch(id).await.expect("batch").status
    }
}

pub fn plan(l2_gas_limit: u64) -> ProposePlan {
    ProposePlan::single(
        BLOCKS,
        WorkloadSpec { txs_per_block: 8, ..WorkloadSpec::default() },
        l2_gas_limit,
    )
}

impl Running {
    /// Collects events until `done` holds for one of them, or panics after `timeout`.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&Event) -> bool,
    ) -> Event {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.events.recv()).await {
                Ok(Some(event)) => {
                    self.seen.push(event.clone());
                    if done(&event) {
                        return event;
                    }
                }
                Ok(None) => panic!("the daemon stopped while waiting for {what}"),
                Err(_) => panic!("no {what} within {timeout:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// Like [`Self::wait_for`], but an event already seen counts too (the watcher and the
    /// submitter are separate tasks, so their events may come in either order).
    pub async fn saw_or_wait(
        &mut self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&Event) -> bool,
    ) -> Event {
        match self.seen.iter().find(|ev| done(ev)) {
            Some(event) => event.clone(),
            None => self.wait_for(timeout, what, done).await,
        }
    }

    /// Drains what is queued now.
    pub fn drain(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            self.seen.push(event);
        }
    }

    pub async fn shutdown(self) -> Vec<Event> {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
        let mut seen = self.seen;
        let mut events = self.events;
        while let Ok(event) = events.try_recv() {
            seen.push(event);
        }
        seen
    }
}

pub fn landed(event: &Event) -> Option<&Intent> {
    match event {
        Event::Intent(intent) if matches!(intent.stage, Stage::Landed { .. }) => Some(intent),
        _ => None,
    }
}

pub fn checked(event: &Event, id: u64) -> bool {
    matches!(event, Event::Finding(Finding::Checked(r)) if r.id == id)
}
