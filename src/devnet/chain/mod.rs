//! The dev L1's chain: state, blocks, pool, block building and the dev controls.
//!
//! This module holds the chain's state and its reads; the rest is split by what it does to
//! the chain: [`admission`] (which transactions the pool takes), [`building`] (mining blocks
//! and the dev clock), [`history`] (snapshots, reverts and reorgs) and [`calls`] (`eth_call`,
//! `eth_estimateGas`).
//!
//! Input: raw signed transactions, mining requests and dev commands. Output: blocks with
//! receipts and logs, state reads at any block, and [`ChainEvent`]s for subscribers.
//!
//! State lives in a [`StateStore`] (rocksdb; in rocksdb's in-memory environment unless a data
//! directory is configured), so state roots are real Merkle-Patricia roots and snapshots,
//! reverts and reorgs use the store's atomic rollback. Each block, its state changes, its undo
//! record and its body (transactions and receipts) are written in one batch; reopening a data
//! directory reloads the chain from it.
//!
//! Blocks run through [`BlockRun`], the block engine the L2 replay and the conformance runner
//! use, with the EXECUTE precompile installed and a fresh [`ExecuteMeter`] per block: a
//! transaction whose EXECUTE calls would take the block past its cumulative EXECUTE budget is
//! left out and waits for a later block (unless it is the block's first EXECUTE user, in which
//! case the precompile's own refusal stands and the transaction is included as failed).

use super::pool::Pool;
use super::{DevnetConfig, DevnetError};
use crate::execute_local::chain::ChainRules;
use crate::execute_local::chunk::Sealed;
use crate::execute_local::l2::system_contracts;
use crate::execute_local::replay::{GenesisAccount, GenesisState};
use crate::execute_local::store::{FlatDb, Overlay, StateStore};
use crate::precompile::ExecuteConfig;
use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, Header, ReceiptEnvelope, TxEnvelope,
    transaction::{Recovered, SignerRecoverable},
};
use alloy_eips::eip1559::BaseFeeParams;
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rlp::{Encodable, RlpDecodable, RlpEncodable};
use alloy_trie::EMPTY_ROOT_HASH;
use revm::Database;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

mod admission;
mod building;
mod calls;
mod history;

pub use building::Mining;
use building::{block_size, finish_txs, with_fork_fields};
pub use calls::{halt_message, invalid_message};

/// A transaction in a mined block, with what its receipt needs.
#[derive(Debug, Clone)]
pub struct MinedTx {
    pub hash: B256,
    pub tx: Recovered<TxEnvelope>,
    pub receipt: ReceiptEnvelope,
    pub gas_used: u64,
    /// Block-wide index of the transaction's first log.
    pub first_log_index: u64,
    pub contract_address: Option<Address>,
    pub effective_gas_price: u128,
}

/// A mined block.
#[derive(Debug, Clone)]
pub struct MinedBlock {
    pub hash: B256,
    pub header: Header,
    pub txs: Vec<MinedTx>,
    /// RLP length of the whole block.
    pub size: u64,
}

impl MinedBlock {
    pub fn number(&self) -> u64 {
        self.header.number
    }
}

/// What subscribers are told.
#[derive(Debug, Clone)]
pub enum ChainEvent {
    /// A block joined the canonical chain.
    Added(Arc<MinedBlock>),
    /// A block left the canonical chain (revert or reorg); its logs are now `removed`.
    Removed(Arc<MinedBlock>),
}

/// Why a raw transaction was refused. Messages follow geth's, which clients match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("failed to decode signed transaction: {0}")]
    Decode(String),
    #[error("invalid sender: {0}")]
    Signature(String),
    #[error("invalid chain id for signer: have {have} want {want}")]
    ChainId { have: u64, want: u64 },
    #[error("transaction type not supported: {0}")]
    UnsupportedType(String),
    #[error("nonce too low: address {address}, tx: {tx} state: {state}")]
    NonceTooLow { address: Address, tx: u64, state: u64 },
    #[error("already known")]
    AlreadyKnown,
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    #[error(
        "insufficient funds for gas * price + value: address {address} have {have} want {want}"
    )]
    InsufficientFunds { address: Address, have: U256, want: U256 },
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGas { gas: u64, needed: u64 },
    #[error("exceeds block gas limit")]
    GasLimit,
    #[error("transaction gas limit too high (cap: {cap}, tx: {gas})")]
    GasCap { gas: u64, cap: u64 },
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    #[error(
        "max fee per gas less than block base fee: maxFeePerGas: {fee_cap}, baseFee: {base_fee}"
    )]
    FeeCapTooLow { fee_cap: u128, base_fee: u64 },
    #[error(transparent)]
    Internal(#[from] DevnetError),
}

/// What a call (`eth_call`, `eth_estimateGas`) came to.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call reverted; `output` is the revert data.
    #[error("execution reverted")]
    Reverted { output: Bytes },
    /// The call halted (out of gas, invalid opcode, ...).
    #[error("{0}")]
    Halted(String),
    /// The request cannot be executed (bad fields, insufficient funds for value, ...).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Internal(#[from] DevnetError),
}

/// A snapshot: the head and the pool it had.
#[derive(Debug, Clone)]
struct Snapshot {
    head: u64,
    pool: Pool,
    time_offset: i64,
}

/// What a reorg did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReorgReport {
    pub depth: u64,
    pub removed: Vec<B256>,
    pub added: Vec<B256>,
    /// Transactions of the replaced blocks not in the new ones (dropped on request, or no
    /// longer valid once others were dropped).
    pub dropped_txs: Vec<B256>,
}

/// The chain. Not thread-safe by itself: the server keeps it behind a mutex.
pub struct Chain {
    config: DevnetConfig,
    rules: ChainRules,
    execute: ExecuteConfig,
    store: StateStore,
    blocks: Vec<Arc<MinedBlock>>,
    by_hash: HashMap<B256, u64>,
    tx_index: HashMap<B256, (u64, usize)>,
    pool: Pool,
    snapshots: BTreeMap<u64, Snapshot>,
    next_snapshot: u64,
    time_offset: i64,
    next_timestamp: Option<u64>,
    reorgs: u64,
    mining: Mining,
    events: broadcast::Sender<ChainEvent>,
    /// Keeps the temporary directory of an in-memory chain's name alive.
    _scratch: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("chain_id", &self.config.chain_id)
            .field("head", &self.head().number())
            .field("pool", &self.pool.len())
            .finish()
    }
}

/// Block body as stored: transactions and receipts in their EIP-2718 encodings.
#[derive(Debug, RlpEncodable, RlpDecodable)]
struct StoredBody {
    txs: Vec<Bytes>,
    receipts: Vec<Bytes>,
}

/// Where the next block's transactions come from.
enum Source {
    Pool,
    /// Exactly these, in this order (re-mining during a reorg).
    Listed(Vec<Recovered<TxEnvelope>>),
}

impl Chain {
    /// Opens the chain: a fresh genesis, or the chain saved in the configured data directory.
    pub fn open(config: DevnetConfig) -> Result<Self, DevnetError> {
        let schedule = config.schedule()?;
        let rules = ChainRules::new(config.chain_id, schedule.clone()).without_trace_budget();
        let execute = ExecuteConfig {
            address: config.execute_address,
            l2_schedule: schedule,
            block_gas_limit: config.execute_block_gas_limit,
        };
        let (store, scratch) = match &config.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|err| DevnetError::DataDir {
                    path: dir.clone(),
                    reason: err.to_string(),
                })?;
                (StateStore::open(&dir.join("chain"))?, None)
            }
            None => {
                let scratch = tempfile::tempdir().map_err(|err| DevnetError::DataDir {
                    path: std::env::temp_dir(),
                    reason: err.to_string(),
                })?;
                (StateStore::open_in_memory(&scratch.path().join("chain"))?, Some(scratch))
            }
        };
        let (events, _) = broadcast::channel(1024);
        let mining = config.mining();
        let mut chain = Self {
            config,
            rules,
            execute,
            store,
            blocks: Vec::new(),
            by_hash: HashMap::new(),
            tx_index: HashMap::new(),
            pool: Pool::default(),
            snapshots: BTreeMap::new(),
            next_snapshot: 1,
            time_offset: 0,
            next_timestamp: None,
            reorgs: 0,
            mining,
            events,
            _scratch: scratch,
        };
        let (genesis_state, genesis) = chain.genesis()?;
        match chain.store.head()? {
            None => {
                let sealed = Sealed { hash: genesis.hash, header: rlp(&genesis.header) };
                genesis_state.write(&chain.store, 0, &sealed)?;
                chain.push_block(Arc::new(genesis));
            }
            Some(_) => chain.load(&genesis)?,
        }
        Ok(chain)
    }

    fn genesis(&self) -> Result<(GenesisState, MinedBlock), DevnetError> {
        let mut alloc: BTreeMap<Address, GenesisAccount> = system_contracts()
            .into_iter()
            .map(|(address, code)| {
                (address, GenesisAccount { nonce: 1, code, ..Default::default() })
            })
            .collect();
        for account in self.config.dev_accounts()? {
            alloc.insert(
                account.address,
                GenesisAccount { balance: self.config.balance, ..Default::default() },
            );
        }
        let state =
            GenesisState::build(&alloc).map_err(|fault| DevnetError::Genesis(fault.to_string()))?;
        let timestamp = self.config.genesis_timestamp.unwrap_or_else(now);
        let spec = self.rules.spec_id(0, timestamp);
        let header = Header {
            state_root: state.state_root,
            gas_limit: self.config.gas_limit,
            timestamp,
            base_fee_per_gas: Some(self.config.base_fee),
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            extra_data: Bytes::from_static(b"native-challenger devnet"),
            ..Default::default()
        };
        let header = with_fork_fields(header, spec, &alloy_eips::eip7685::Requests::default());
        let hash = header.hash_slow();
        let size = block_size(&header, &[], spec);
        Ok((state, MinedBlock { hash, header, txs: Vec::new(), size }))
    }

    /// Reloads a saved chain, checking it is the chain this configuration describes.
    fn load(&mut self, genesis: &MinedBlock) -> Result<(), DevnetError> {
        let head = self.store.head()?.ok_or_else(|| DevnetError::Corrupt("no head".into()))?;
        for number in 0..=head.number {
            let (hash, header_bytes) = self
                .store
                .header(number)?
                .ok_or_else(|| DevnetError::Corrupt(format!("block {number} has no header")))?;
            let header = <Header as alloy_rlp::Decodable>::decode(&mut &header_bytes[..])
                .map_err(|err| DevnetError::Corrupt(format!("header {number}: {err}")))?;
            if number == 0 && hash != genesis.hash && self.config.genesis_timestamp.is_some() {
                return Err(DevnetError::Corrupt(format!(
                    "the data directory holds a different chain (genesis {hash}, this \
                     configuration gives {})",
                    genesis.hash
                )));
            }
            let txs = match self.store.body(number)? {
                None => Vec::new(),
                Some(bytes) => self.decode_body(number, &header, &bytes)?,
            };
            let spec = self.rules.spec_id(number, header.timestamp);
            let envelopes: Vec<TxEnvelope> = txs.iter().map(|t| t.tx.inner().clone()).collect();
            let size = block_size(&header, &envelopes, spec);
            self.push_block(Arc::new(MinedBlock { hash, header, txs, size }));
        }
        let genesis_header = &self.blocks[0].header;
        if genesis_header.state_root != genesis.header.state_root
            || genesis_header.gas_limit != genesis.header.gas_limit
        {
            return Err(DevnetError::Corrupt(
                "the data directory holds a chain with another genesis state (accounts, \
                 balance or gas limit differ from this configuration)"
                    .into(),
            ));
        }
        Ok(())
    }

    fn decode_body(
        &self,
        number: u64,
        header: &Header,
        bytes: &[u8],
    ) -> Result<Vec<MinedTx>, DevnetError> {
        let corrupt = |what: &str| DevnetError::Corrupt(format!("body of block {number}: {what}"));
        let body = <StoredBody as alloy_rlp::Decodable>::decode(&mut &bytes[..])
            .map_err(|err| corrupt(&err.to_string()))?;
        if body.txs.len() != body.receipts.len() {
            return Err(corrupt("transaction and receipt counts differ"));
        }
        let mut txs = Vec::with_capacity(body.txs.len());
        for (raw_tx, raw_receipt) in body.txs.iter().zip(&body.receipts) {
            let envelope = TxEnvelope::decode_2718(&mut &raw_tx[..])
                .map_err(|err| corrupt(&err.to_string()))?;
            let tx = envelope.try_into_recovered().map_err(|err| corrupt(&err.to_string()))?;
            let receipt = ReceiptEnvelope::decode_2718(&mut &raw_receipt[..])
                .map_err(|err| corrupt(&err.to_string()))?;
            txs.push((tx, receipt));
        }
        let base_fee = header.base_fee_per_gas.unwrap_or_default();
        Ok(finish_txs(txs, base_fee))
    }

    fn push_block(&mut self, block: Arc<MinedBlock>) {
        let number = block.number();
        self.by_hash.insert(block.hash, number);
        for (index, tx) in block.txs.iter().enumerate() {
            self.tx_index.insert(tx.hash, (number, index));
        }
        self.blocks.push(block);
    }

    pub fn config(&self) -> &DevnetConfig {
        &self.config
    }

    pub fn rules(&self) -> &ChainRules {
        &self.rules
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    pub fn head(&self) -> &Arc<MinedBlock> {
        // The genesis block is pushed in `open` and never rolled back.
        &self.blocks[self.blocks.len() - 1]
    }

    pub fn block(&self, number: u64) -> Option<&Arc<MinedBlock>> {
        usize::try_from(number).ok().and_then(|n| self.blocks.get(n))
    }

    pub fn block_by_hash(&self, hash: &B256) -> Option<&Arc<MinedBlock>> {
        self.by_hash.get(hash).and_then(|n| self.block(*n))
    }

    /// A mined transaction: its block and position.
    pub fn transaction(&self, hash: &B256) -> Option<(&Arc<MinedBlock>, usize)> {
        let (number, index) = self.tx_index.get(hash)?;
        Some((self.block(*number)?, *index))
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The base fee the next block will have.
    pub fn next_base_fee(&self) -> u64 {
        // As anvil: the configured base fee is that of the genesis AND of block 1 (a chain
        // born after London has no fork block to start the EIP-1559 sequence from).
        if self.head().number() == 0 {
            return self.config.base_fee;
        }
        self.head()
            .header
            .next_block_base_fee(BaseFeeParams::ethereum())
            .unwrap_or(self.config.base_fee)
    }

    /// A reader of the state after block `number`.
    pub fn state_at(&self, number: u64) -> Result<StateView<'_>, DevnetError> {
        let overlay = if number >= self.head().number() {
            None
        } else {
            Some(self.store.overlay_at(number)?)
        };
        Ok(StateView { store: &self.store, overlay })
    }
}

/// Reads of the state after one block.
pub struct StateView<'a> {
    store: &'a StateStore,
    overlay: Option<Overlay>,
}

impl StateView<'_> {
    fn db(&self) -> FlatDb<'_> {
        match &self.overlay {
            Some(overlay) => FlatDb::with_overlay(self.store, overlay),
            None => FlatDb::new(self.store),
        }
    }

    pub fn balance(&self, address: Address) -> Result<U256, DevnetError> {
        Ok(self.db().basic(address)?.map(|a| a.balance).unwrap_or_default())
    }

    pub fn nonce(&self, address: Address) -> Result<u64, DevnetError> {
        Ok(self.db().basic(address)?.map(|a| a.nonce).unwrap_or_default())
    }

    pub fn code(&self, address: Address) -> Result<Bytes, DevnetError> {
        let mut db = self.db();
        let Some(info) = db.basic(address)? else { return Ok(Bytes::new()) };
        Ok(db.code_by_hash(info.code_hash)?.original_bytes())
    }

    pub fn storage(&self, address: Address, slot: U256) -> Result<U256, DevnetError> {
        Ok(self.db().storage(address, slot)?)
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn rlp<T: Encodable>(value: &T) -> Bytes {
    let mut out = Vec::new();
    value.encode(&mut out);
    Bytes::from(out)
}
