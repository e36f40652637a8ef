//! The embedded dev L1: a single-process Ethereum node with the EXECUTE precompile, speaking
//! standard JSON-RPC over HTTP and WebSocket on 127.0.0.1.
//!
//! Input: a [`DevnetConfig`] (chain id, fork, gas limit, base fee, mining mode, EXECUTE
//! address and per-block budget, dev accounts, optional data directory). Output: a running
//! node ([`Devnet`]) whose URLs and dev accounts the caller hands to clients.
//!
//! Defaults follow anvil so that tools written against anvil work unchanged: chain id 31337,
//! the "test test … junk" mnemonic, 10 accounts of 10,000 ETH, automine, a 30M gas limit and
//! a 1 gwei initial base fee. The node is for development and tests: it binds to loopback
//! only, keeps every block in memory and has no peer-to-peer networking.
//!
//! Everything L1-facing in the product goes through JSON-RPC, never through this module's
//! Rust API, so a real EXECUTE-capable node can replace the dev L1 by changing one URL.

pub mod chain;
pub mod pool;
pub mod rpc;
pub mod sign;
mod views;

use crate::execute_local::forks::{ForkSchedule, Network, network};
use crate::execute_local::store::StoreError;
use crate::precompile::{DEFAULT_EXECUTE_ADDRESS, DEFAULT_EXECUTE_BLOCK_GAS_LIMIT};
use alloy_primitives::{Address, B256, U256, utils::parse_ether};
use alloy_signer_local::{MnemonicBuilder, coins_bip39::English};
use chain::{Chain, Mining};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// anvil's default mnemonic: its accounts are what every Ethereum dev tool expects.
pub const DEFAULT_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// Errors of the dev L1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DevnetError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("data directory {}: {reason}", path.display())]
    DataDir { path: PathBuf, reason: String },
    #[error("state store: {0}")]
    Store(String),
    #[error("stored chain is unusable: {0}")]
    Corrupt(String),
    #[error("genesis: {0}")]
    Genesis(String),
    #[error("building a block: {0}")]
    Build(String),
    #[error("{0}")]
    Request(String),
    #[error("serving JSON-RPC: {0}")]
    Server(String),
}

impl From<StoreError> for DevnetError {
    fn from(err: StoreError) -> Self {
        Self::Store(err.to_string())
    }
}

impl From<crate::execute_local::fault::DbFault> for DevnetError {
    fn from(err: crate::execute_local::fault::DbFault) -> Self {
        Self::Store(err.to_string())
    }
}

/// How the dev L1 is set up. `Default` gives anvil's defaults plus EXECUTE.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    pub chain_id: u64,
    /// The fork the L1 runs from genesis (post-merge forks: Paris … Osaka). EXECUTE runs L2
    /// blocks under the same fork.
    pub fork: String,
    pub gas_limit: u64,
    /// Base fee of the genesis block; later blocks follow EIP-1559.
    pub base_fee: u64,
    /// `Some`: mine a block every interval; `None`: automine (or manual with `automine`
    /// false).
    pub block_time: Option<Duration>,
    pub automine: bool,
    pub mnemonic: String,
    pub accounts: u32,
    pub balance: U256,
    pub coinbase: Address,
    /// Fixed genesis timestamp (default: the start time). Fixing it makes the genesis, and
    /// so a data directory, reproducible.
    pub genesis_timestamp: Option<u64>,
    pub execute_address: Address,
    /// Cumulative EXECUTE gas per L1 block.
    pub execute_block_gas_limit: u64,
    /// Keep the chain in this directory (reopened on restart); `None`: in memory.
    pub data_dir: Option<PathBuf>,
    /// Where to listen; port 0 picks a free one. Loopback only.
    pub listen: SocketAddr,
}

impl Default for DevnetConfig {
    fn default() -> Self {
        Self {
            chain_id: 31337,
            fork: crate::execute_local::forks::DEFAULT_FORK.to_string(),
            gas_limit: 30_000_000,
            base_fee: 1_000_000_000,
            block_time: None,
            automine: true,
            mnemonic: DEFAULT_MNEMONIC.to_string(),
            accounts: 10,
            balance: parse_ether("10000").unwrap_or_default(),
            coinbase: Address::ZERO,
            genesis_timestamp: None,
            execute_address: DEFAULT_EXECUTE_ADDRESS,
            execute_block_gas_limit: DEFAULT_EXECUTE_BLOCK_GAS_LIMIT,
            data_dir: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8545)),
        }
    }
}

/// One prefunded dev account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevAccount {
    pub address: Address,
    pub private_key: B256,
}

impl DevnetConfig {
    pub fn schedule(&self) -> Result<ForkSchedule, DevnetError> {
        match network(&self.fork) {
            Network::Supported(schedule) => Ok(schedule),
            Network::Skipped { reason } => {
                Err(DevnetError::Config(format!("fork {:?}: {reason}", self.fork)))
            }
        }
    }

    pub fn mining(&self) -> Mining {
        match (self.block_time, self.automine) {
            (Some(interval), _) => Mining::Interval(interval),
            (None, true) => Mining::Auto,
            (None, false) => Mining::Manual,
        }
    }

    /// The dev accounts: BIP-44 path m/44'/60'/0'/0/i of the mnemonic.
    pub fn dev_accounts(&self) -> Result<Vec<DevAccount>, DevnetError> {
        (0..self.accounts)
            .map(|index| {
                let signer = MnemonicBuilder::<English>::default()
                    .phrase(self.mnemonic.as_str())
                    .index(index)
                    .and_then(|builder| builder.build())
                    .map_err(|err| DevnetError::Config(format!("mnemonic: {err}")))?;
                Ok(DevAccount { address: signer.address(), private_key: signer.to_bytes() })
            })
            .collect()
    }

    /// Checks what can be checked before anything starts.
    pub fn validate(&self) -> Result<(), DevnetError> {
        self.schedule()?;
        if !self.listen.ip().is_loopback() {
            return Err(DevnetError::Config(format!(
                "the dev L1 listens on loopback only, not {}",
                self.listen.ip()
            )));
        }
        if self.gas_limit < 21_000 {
            return Err(DevnetError::Config(format!(
                "gas limit {} is below 21000",
                self.gas_limit
            )));
        }
        if self.block_time.is_some_and(|t| t.is_zero()) {
            return Err(DevnetError::Config("block time must be positive".into()));
        }
        Ok(())
    }
}

/// A running dev L1.
pub struct Devnet {
    pub http_url: String,
    pub ws_url: String,
    pub accounts: Vec<DevAccount>,
    pub chain_id: u64,
    chain: Arc<Mutex<Chain>>,
    server: jsonrpsee::server::ServerHandle,
    miner: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet").field("http_url", &self.http_url).finish()
    }
}

impl Devnet {
    /// Opens the chain and starts serving. Must run inside a tokio runtime.
    pub async fn spawn(config: DevnetConfig) -> Result<Self, DevnetError> {
        config.validate()?;
        let accounts = config.dev_accounts()?;
        let chain_id = config.chain_id;
        let listen = config.listen;
        let chain = Arc::new(Mutex::new(Chain::open(config)?));
        let (server, addr) = rpc::serve(chain.clone(), listen).await?;
        let miner = Some(tokio::spawn(rpc::interval_miner(chain.clone())));
        Ok(Self {
            http_url: format!("http://{addr}"),
            ws_url: format!("ws://{addr}"),
            accounts,
            chain_id,
            chain,
            server,
            miner,
        })
    }

    /// The chain, for in-process inspection by tests and the demo.
    pub fn chain(&self) -> Arc<Mutex<Chain>> {
        self.chain.clone()
    }

    /// Stops serving and waits until the server is down.
    pub async fn stop(mut self) {
        if let Some(miner) = self.miner.take() {
            miner.abort();
        }
        let _ = self.server.stop();
        self.server.clone().stopped().await;
    }

    /// Resolves when the server stops (e.g. after ctrl-c handling elsewhere).
    pub async fn stopped(&self) {
        self.server.clone().stopped().await;
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if let Some(miner) = self.miner.take() {
            miner.abort();
        }
        let _ = self.server.stop();
    }
}
