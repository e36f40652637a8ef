//! anvil (npm `@foundry-rs/anvil`, under tests/js/node_modules) as the L1: a process started on
//! a free port and killed on drop, the rollup deployed on it with the proposer's dev genesis,
//! and the challenger daemon following it in-process.
#![allow(dead_code)]

use alloy_primitives::{Address, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionReceipt;
use alloy_signer_local::PrivateKeySigner;
use native_challenger::config::{Config, Mode};
use native_challenger::daemon::{Daemon, Event};
use native_challenger::devnet::DevnetConfig;
use native_challenger::proposer::driver::{
    ProposePlan, deploy_dev_rollup, open_proposer, propose_next, signing_provider,
};
use native_challenger::proposer::{Fault, PlannedBatch, Proposer, WorkloadSpec};
use native_challenger::rollup::{RollupClient, RollupParams};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The L2's chain id (anvil's own is 31337).
pub const L2_CHAIN_ID: u64 = 901;
pub const BLOCKS: usize = 2;
/// Generous bound on anything the tests wait for; never a timing assertion.
pub const WAIT: Duration = Duration::from_secs(90);

/// The anvil binary of the npm package; panics (the test fails) when it is not installed.
pub fn anvil_binary() -> PathBuf {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/node_modules");
    assert!(
        modules.is_dir(),
        "tests/js/node_modules is missing: run `npm install --prefix tests/js` (as .ci/run does)"
    );
    let scope = modules.join("@foundry-rs");
    let entries = std::fs::read_dir(&scope).unwrap_or_else(|e| {
        panic!("{} is missing ({e}): run `npm install --prefix tests/js`", scope.display())
    });
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("anvil-"))
        .flat_map(|e| ["anvil", "anvil.exe"].map(|name| e.path().join("bin").join(name)))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no anvil binary under {}/anvil-*/bin: run `npm install --prefix tests/js`",
                scope.display()
            )
        })
}

/// A running anvil, killed on drop.
pub struct Anvil {
    child: Child,
    pub url: String,
    pub provider: DynProvider,
    pub chain_id: u64,
}

impl Anvil {
    /// Starts anvil (automine, the "test … junk" accounts) on a free port and waits until it
    /// answers `eth_chainId`.
    pub async fn start() -> Self {
        let binary = anvil_binary();
        let mut last = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().unwrap().port();
            let child = Command::new(&binary)
                .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--silent"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            let url = format!("http://127.0.0.1:{port}");
            let provider = ProviderBuilder::new().connect_http(url.parse().unwrap()).erased();
            let mut anvil = Self { child, url, provider, chain_id: 0 };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = anvil.child.try_wait() {
                    last = format!("anvil exited with {status} (port {port} taken?)");
                    break;
                }
                match anvil.provider.get_chain_id().await {
                    Ok(id) => {
                        anvil.chain_id = id;
                        return anvil;
                    }
                    Err(e) => last = e.to_string(),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("anvil did not answer eth_chainId: {last}");
    }

    /// A raw JSON-RPC call (the `anvil_*` and `evm_*` methods).
    pub async fn rpc(&self, method: &'static str, params: serde_json::Value) -> serde_json::Value {
        self.provider
            .raw_request(method.into(), params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    pub async fn mine(&self, blocks: u64) {
        self.rpc("anvil_mine", serde_json::json!([U256::from(blocks)])).await;
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Dev account `index` of anvil's default mnemonic (the dev L1 uses the same one).
pub fn dev_key(index: usize) -> PrivateKeySigner {
    let accounts = DevnetConfig::default().dev_accounts().expect("dev accounts");
    PrivateKeySigner::from_bytes(&accounts[index].private_key).expect("dev key")
}

/// Wei paid for a receipt's gas.
pub fn fee(receipt: &TransactionReceipt) -> U256 {
    U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price)
}

/// The rollup on anvil (deployed by dev account 0, whose proposer proposes on it).
pub struct AnvilRollup {
    pub anvil: Anvil,
    pub client: RollupClient,
    pub params: RollupParams,
    pub proposer: Proposer,
    pub dir: tempfile::TempDir,
}

impl AnvilRollup {
    /// anvil, and the rollup with `window` blocks deployed on it. Its EXECUTE address is the
    /// default 0x…0101, an empty account on anvil: nothing can be convicted there.
    pub async fn new(window: u64) -> Self {
        let anvil = Anvil::start().await;
        let key = dev_key(0);
        let from = key.address();
        let provider = signing_provider(&anvil.url, key).expect("provider");
        let (client, params, _) =
            deploy_dev_rollup(provider, from, L2_CHAIN_ID, |p| p.challenge_window = window)
                .await
                .expect("deploy on anvil");
        assert_ne!(params.execute, Address::ZERO);
        let dir = tempfile::tempdir().expect("tempdir");
        let workload = WorkloadSpec { txs_per_block: 8, ..WorkloadSpec::default() };
        let plan = ProposePlan::single(BLOCKS, workload, params.max_l2_gas_limit);
        let proposer = open_proposer(&client, L2_CHAIN_ID, &dir.path().join("proposer"), &plan)
            .await
            .expect("proposer");
        Self { anvil, client, params, proposer, dir }
    }

    /// Proposes the next batch of [`BLOCKS`] blocks on the contract's tip.
    pub async fn propose(
        &mut self,
        fault: Option<Fault>,
    ) -> (u64, PlannedBatch, TransactionReceipt) {
        propose_next(&self.client, &mut self.proposer, BLOCKS, fault).await.expect("propose")
    }

    pub async fn balance(&self, who: Address) -> U256 {
        self.anvil.provider.get_balance(who).await.expect("balance")
    }

    /// A watch-only daemon configuration over anvil, acting at `confirmations` deep.
    pub fn watch_config(&self, name: &str, confirmations: u64) -> Config {
        let store = self.dir.path().join(name).join("l2");
        let mut config = Config::dev(L2_CHAIN_ID, &self.anvil.url, self.client.address(), store);
        if let Some(l1) = config.l1.as_mut() {
            l1.confirmations = confirmations;
        }
        config.challenger.mode = Mode::WatchOnly;
        config
    }

    /// Starts the daemon watch-only (no key) with `config`.
    pub async fn watch(&self, config: &Config) -> Watching {
        std::fs::create_dir_all(config.store.path.parent().unwrap()).expect("state dir");
        let (tx, events) = mpsc::unbounded_channel();
        let daemon = Daemon::build(config, None, true).await.expect("daemon").with_events(tx);
        assert_eq!(daemon.challenger(), None, "watch-only has no submitter");
        let (stop, rx) = watch::channel(false);
        let handle = tokio::spawn(daemon.run(rx));
        Watching { stop, handle, events, seen: Vec::new() }
    }
}

/// A running daemon and what it reported.
pub struct Watching {
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<Result<(), native_challenger::daemon::DaemonError>>,
    events: mpsc::UnboundedReceiver<Event>,
    pub seen: Vec<Event>,
}

impl Watching {
    /// Collects events until one satisfies `done`; panics after [`WAIT`].
    pub async fn wait_for(&mut self, what: &str, done: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + WAIT;
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
                Err(_) => panic!("no {what} within {WAIT:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// Stops the daemon; returns everything it reported.
    pub async fn shutdown(self) -> Vec<Event> {
        let Self { stop, handle, mut events, mut seen } = self;
        let _ = stop.send(true);
        let _ = handle.await;
        while let Ok(event) = events.try_recv() {
            seen.push(event);
        }
        seen
    }
}
