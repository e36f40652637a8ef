//! The dev L1's chain: state, blocks, pool, block building and the dev controls.
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

use super::pool::{Pool, best_queue};
use super::{DevnetConfig, DevnetError};
use crate::execute_local::block::{BlockEnvInput, BlockOutcome, BlockRun, TxOutcome, settle};
use crate::execute_local::chain::ChainRules;
use crate::execute_local::chunk::Sealed;
use crate::execute_local::commit::BlockWrite;
use crate::execute_local::l2::system_contracts;
use crate::execute_local::replay::{GenesisAccount, GenesisState};
use crate::execute_local::store::{FlatDb, Overlay, StateStore};
use crate::execute_local::tries::{StateDiff, StateTries};
use crate::precompile::{ExecuteConfig, ExecuteMeter, ExecutePrecompile};
use alloy_consensus::{
    BlockBody, EMPTY_OMMER_ROOT_HASH, Header, ReceiptEnvelope, Transaction, TxEnvelope,
    proofs::calculate_transaction_root,
    transaction::{Recovered, SignerRecoverable},
};
use alloy_eips::eip1559::BaseFeeParams;
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_evm::{Evm, EvmFactory, FromRecoveredTx, eth::EthEvmFactory, rpc::TryIntoTxEnv};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::{Encodable, RlpDecodable, RlpEncodable};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_trie::EMPTY_ROOT_HASH;
use revm::Database;
use revm::context::TxEnv;
use revm::context_interface::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction};
use revm::database::{State, states::bundle_state::BundleRetention};
use revm::primitives::hardfork::SpecId;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

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
        let rules = ChainRules::new(config.chain_id, schedule.clone());
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

    /// Admits a raw transaction into the pool (and mines it when automining).
    pub fn submit(&mut self, raw: &[u8]) -> Result<B256, SubmitError> {
        let mut buf = raw;
        let envelope = TxEnvelope::decode_2718(&mut buf)
            .map_err(|err| SubmitError::Decode(err.to_string()))?;
        if !buf.is_empty() {
            return Err(SubmitError::Decode(format!("{} trailing bytes", buf.len())));
        }
        if envelope.is_eip4844() {
            return Err(SubmitError::UnsupportedType(
                "blob transactions (type 3) are not supported by the dev L1".into(),
            ));
        }
        let hash = *envelope.tx_hash();
        if self.pool.contains(&hash) || self.tx_index.contains_key(&hash) {
            return Err(SubmitError::AlreadyKnown);
        }
        let tx =
            envelope.try_into_recovered().map_err(|err| SubmitError::Signature(err.to_string()))?;
        self.admit(&tx)?;
        if let Some(previous) = self.pool.at(&tx.signer(), tx.nonce()) {
            let old_fee = previous.tx.max_fee_per_gas();
            let old_tip = previous.tx.max_priority_fee_per_gas().unwrap_or(old_fee);
            let new_tip = tx.max_priority_fee_per_gas().unwrap_or(tx.max_fee_per_gas());
            // geth's default price bump: 10% on both the fee cap and the tip.
            if tx.max_fee_per_gas() * 100 < old_fee * 110 || new_tip * 100 < old_tip * 110 {
                return Err(SubmitError::ReplacementUnderpriced);
            }
        }
        let (sender, nonce) = (tx.signer(), tx.nonce());
        self.pool.insert(hash, tx);
        let state_nonce = self
            .store
            .account(&sender)
            .map_err(|e| SubmitError::Internal(e.into()))?
            .map_or(0, |a| a.nonce);
        // Automine mines when the transaction can run now; one with a nonce gap waits (as in
        // anvil) until the gap is filled.
        let ready = self.pool.pending_nonce(&sender, state_nonce) > nonce;
        if self.mining == Mining::Auto && ready {
            self.mine(None).map_err(SubmitError::Internal)?;
        }
        Ok(hash)
    }

    /// The stateless and state checks a transaction passes before it enters the pool.
    fn admit(&self, tx: &Recovered<TxEnvelope>) -> Result<(), SubmitError> {
        if let Some(have) = tx.chain_id()
            && have != self.config.chain_id
        {
            return Err(SubmitError::ChainId { have, want: self.config.chain_id });
        }
        let next = self.head().number() + 1;
        let spec = self.rules.spec_id(next, now().max(self.head().header.timestamp + 1));
        if tx.is_eip7702() && spec < SpecId::PRAGUE {
            return Err(SubmitError::UnsupportedType("EIP-7702 before Prague".into()));
        }
        if let Some(tip) = tx.max_priority_fee_per_gas()
            && tip > tx.max_fee_per_gas()
        {
            return Err(SubmitError::TipAboveFeeCap);
        }
        let gas = tx.gas_limit();
        if gas > self.config.gas_limit {
            return Err(SubmitError::GasLimit);
        }
        if spec >= SpecId::OSAKA && gas > alloy_eips::eip7825::MAX_TX_GAS_LIMIT_OSAKA {
            return Err(SubmitError::GasCap {
                gas,
                cap: alloy_eips::eip7825::MAX_TX_GAS_LIMIT_OSAKA,
            });
        }
        let tx_env = TxEnv::from_recovered_tx(tx.inner(), tx.signer());
        let initial =
            revm::context_interface::cfg::gas::calculate_initial_tx_gas_for_tx(&tx_env, spec, None);
        let needed = if spec >= SpecId::PRAGUE {
            initial.initial_total_gas().max(initial.floor_gas)
        } else {
            initial.initial_total_gas()
        };
        if gas < needed {
            return Err(SubmitError::IntrinsicGas { gas, needed });
        }
        let base_fee = self.next_base_fee();
        if tx.max_fee_per_gas() < u128::from(base_fee) && !tx.is_legacy() {
            return Err(SubmitError::FeeCapTooLow { fee_cap: tx.max_fee_per_gas(), base_fee });
        }
        let sender = tx.signer();
        let account =
            self.store.account(&sender).map_err(|err| SubmitError::Internal(err.into()))?;
        let (state_nonce, balance) = account.map_or((0, U256::ZERO), |a| (a.nonce, a.balance));
        if tx.nonce() < state_nonce {
            return Err(SubmitError::NonceTooLow {
                address: sender,
                tx: tx.nonce(),
                state: state_nonce,
            });
        }
        let want = U256::from(gas)
            .saturating_mul(U256::from(tx.max_fee_per_gas()))
            .saturating_add(tx.value());
        if balance < want {
            return Err(SubmitError::InsufficientFunds { address: sender, have: balance, want });
        }
        Ok(())
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

/// Sets the header fields each fork adds.
fn with_fork_fields(
    mut header: Header,
    spec: SpecId,
    requests: &alloy_eips::eip7685::Requests,
) -> Header {
    if spec >= SpecId::SHANGHAI {
        header.withdrawals_root = Some(EMPTY_ROOT_HASH);
    }
    if spec >= SpecId::CANCUN {
        header.blob_gas_used = Some(0);
        header.excess_blob_gas = Some(0);
        header.parent_beacon_block_root = Some(B256::ZERO);
    }
    if spec >= SpecId::PRAGUE {
        header.requests_hash = Some(requests.requests_hash());
    }
    header
}

fn block_size(header: &Header, txs: &[TxEnvelope], spec: SpecId) -> u64 {
    let body = BlockBody {
        transactions: txs.to_vec(),
        ommers: Vec::new(),
        withdrawals: (spec >= SpecId::SHANGHAI).then(Default::default),
    };
    alloy_consensus::Block { header: header.clone(), body }.length() as u64
}

/// Per-transaction receipt details from the cumulative receipts.
fn finish_txs(txs: Vec<(Recovered<TxEnvelope>, ReceiptEnvelope)>, base_fee: u64) -> Vec<MinedTx> {
    let mut previous_gas = 0u64;
    let mut log_index = 0u64;
    txs.into_iter()
        .map(|(tx, receipt)| {
            let cumulative = receipt.cumulative_gas_used();
            let gas_used = cumulative.saturating_sub(previous_gas);
            previous_gas = cumulative;
            let first_log_index = log_index;
            log_index += receipt.logs().len() as u64;
            let contract_address = tx.kind().is_create().then(|| tx.signer().create(tx.nonce()));
            let effective_gas_price = tx.effective_gas_price(Some(base_fee));
            MinedTx {
                hash: *tx.inner().tx_hash(),
                tx,
                receipt,
                gas_used,
                first_log_index,
                contract_address,
                effective_gas_price,
            }
        })
        .collect()
}

/// When blocks are mined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mining {
    /// One block as soon as a transaction is admitted (anvil's default).
    Auto,
    /// A block every interval, empty or not.
    Interval(std::time::Duration),
    /// Only on `evm_mine`.
    Manual,
}

impl Chain {
    pub fn mining(&self) -> Mining {
        self.mining
    }

    pub fn set_mining(&mut self, mining: Mining) {
        self.mining = mining;
    }

    /// Mines one block from the pool. `timestamp` overrides the clock (it must be later than
    /// the head's).
    pub fn mine(&mut self, timestamp: Option<u64>) -> Result<Arc<MinedBlock>, DevnetError> {
        if let Some(t) = timestamp {
            self.set_next_timestamp(t)?;
        }
        let block = self.build(Source::Pool, Bytes::new())?;
        Ok(block)
    }

    /// Makes the next block carry `timestamp`.
    pub fn set_next_timestamp(&mut self, timestamp: u64) -> Result<(), DevnetError> {
        let head = self.head().header.timestamp;
        if timestamp <= head {
            return Err(DevnetError::Request(format!(
                "timestamp {timestamp} is not after the head's timestamp {head}"
            )));
        }
        self.next_timestamp = Some(timestamp);
        Ok(())
    }

    /// Moves the clock forward by `seconds`; returns the total offset.
    pub fn increase_time(&mut self, seconds: u64) -> i64 {
        self.time_offset =
            self.time_offset.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX));
        self.time_offset
    }

    fn clock(&self) -> u64 {
        now().saturating_add_signed(self.time_offset)
    }

    fn build(&mut self, source: Source, extra_data: Bytes) -> Result<Arc<MinedBlock>, DevnetError> {
        let parent = self.head().clone();
        let number = parent.number() + 1;
        let timestamp = self
            .next_timestamp
            .take()
            .unwrap_or_else(|| self.clock().max(parent.header.timestamp + 1));
        let spec = self.rules.spec_id(number, timestamp);
        let base_fee = self.next_base_fee();
        let env = BlockEnvInput {
            number,
            timestamp,
            beneficiary: self.config.coinbase,
            prev_randao: keccak256(parent.hash),
            gas_limit: self.config.gas_limit,
            base_fee,
            parent_hash: parent.hash,
            parent_beacon_block_root: (spec >= SpecId::CANCUN).then_some(B256::ZERO),
            excess_blob_gas: (spec >= SpecId::CANCUN).then_some(0),
            withdrawals: (spec >= SpecId::SHANGHAI).then(Vec::new),
        };
        let meter = ExecuteMeter::new(self.execute.block_gas_limit);
        let precompile = ExecutePrecompile::new(self.execute.clone(), meter.clone());
        let store = &self.store;
        let mut state =
            State::builder().with_database(FlatDb::new(store)).with_bundle_update().build();
        let mut included: Vec<Recovered<TxEnvelope>> = Vec::new();
        let mut dropped: Vec<B256> = Vec::new();
        let finished = {
            let mut run =
                BlockRun::begin(&self.rules, &env, &mut state, None, |p| precompile.install(p))
                    .map_err(|err| DevnetError::Build(err.to_string()))?;
            let offer = |tx: &Recovered<TxEnvelope>, run: &mut BlockRun<'_, FlatDb<'_>>| {
                if tx.gas_limit() > self.config.gas_limit.saturating_sub(run.gas_used()) {
                    return Ok(Offer::Wait);
                }
                let mark = meter.mark();
                let outcome =
                    run.transact(tx, |_| !(meter.refused_since_mark() && mark.used() > 0))?;
                Ok::<_, crate::execute_local::block::ExecError>(match outcome {
                    TxOutcome::Committed { .. } => Offer::Included,
                    TxOutcome::Discarded => {
                        meter.rollback(mark);
                        Offer::Wait
                    }
                    TxOutcome::Rejected(reason) => {
                        tracing::warn!(tx = %tx.inner().tx_hash(), %reason, "dropping transaction");
                        Offer::Dropped
                    }
                })
            };
            match &source {
                Source::Listed(txs) => {
                    for tx in txs {
                        match offer(tx, &mut run)
                            .map_err(|err| DevnetError::Build(err.to_string()))?
                        {
                            Offer::Included => included.push(tx.clone()),
                            Offer::Wait | Offer::Dropped => dropped.push(*tx.inner().tx_hash()),
                        }
                    }
                }
                Source::Pool => {
                    let mut queues = self.pool.ready(base_fee, |sender| {
                        store.account(sender).ok().flatten().map_or(0, |a| a.nonce)
                    });
                    while let Some(index) = best_queue(&queues, base_fee) {
                        let Some(pooled) = queues[index].pop_front() else { break };
                        match offer(&pooled.tx, &mut run)
                            .map_err(|err| DevnetError::Build(err.to_string()))?
                        {
                            Offer::Included => included.push(pooled.tx.clone()),
                            Offer::Wait => queues[index].clear(),
                            Offer::Dropped => {
                                dropped.push(pooled.hash);
                                queues[index].clear();
                            }
                        }
                    }
                }
            }
            run.finish()
        };
        let outcome =
            settle(finished, &mut state).map_err(|err| DevnetError::Build(err.to_string()))?;
        state.merge_transitions(BundleRetention::PlainState);
        let diff = StateDiff::from_bundle(&state.take_bundle());
        drop(state);
        let mut tries = StateTries::new(parent.header.state_root);
        let state_root =
            tries.apply(&self.store, &diff).map_err(|f| DevnetError::Build(f.to_string()))?;
        let mut nodes = Vec::new();
        tries.commit(&mut |hash, node| nodes.push((hash, node)));
        let envelopes: Vec<TxEnvelope> = included.iter().map(|t| t.inner().clone()).collect();
        let header = Header {
            parent_hash: parent.hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: self.config.coinbase,
            state_root,
            transactions_root: calculate_transaction_root(&envelopes),
            receipts_root: outcome.receipts_root,
            logs_bloom: outcome.logs_bloom,
            number,
            gas_limit: self.config.gas_limit,
            gas_used: outcome.gas_used,
            timestamp,
            extra_data,
            mix_hash: env.prev_randao,
            base_fee_per_gas: Some(base_fee),
            ..Default::default()
        };
        let header = with_fork_fields(header, spec, &outcome.requests);
        let hash = header.hash_slow();
        let body = StoredBody {
            txs: envelopes.iter().map(|t| Bytes::from(t.encoded_2718())).collect(),
            receipts: outcome.receipts.iter().map(|r| Bytes::from(r.encoded_2718())).collect(),
        };
        let body_bytes = rlp(&body);
        let header_bytes = rlp(&header);
        self.store.commit_block(BlockWrite {
            number,
            hash,
            header: &header_bytes,
            state_root,
            diff: &diff,
            nodes: &nodes,
            body: if included.is_empty() { &[] } else { &body_bytes },
        })?;
        let size = block_size(&header, &envelopes, spec);
        let BlockOutcome { receipts, .. } = outcome;
        let txs = finish_txs(included.into_iter().zip(receipts).collect(), base_fee);
        for tx in &txs {
            self.pool.remove(&tx.hash);
        }
        for hash in &dropped {
            self.pool.remove(hash);
        }
        for sender in self.pool.senders() {
            let nonce = self.store.account(&sender)?.map_or(0, |a| a.nonce);
            self.pool.prune(&sender, nonce);
        }
        let block = Arc::new(MinedBlock { hash, header, txs, size });
        self.push_block(block.clone());
        tracing::debug!(number, %hash, txs = block.txs.len(), "mined block");
        let _ = self.events.send(ChainEvent::Added(block.clone()));
        Ok(block)
    }

    /// Drops blocks after `number`; their transactions go back to the pool when `repool`.
    fn truncate(&mut self, number: u64, repool: bool) -> Result<Vec<Arc<MinedBlock>>, DevnetError> {
        if number >= self.head().number() {
            return Ok(Vec::new());
        }
        self.store.rollback_to(number)?;
        let keep = usize::try_from(number + 1).unwrap_or(usize::MAX);
        let removed: Vec<Arc<MinedBlock>> = self.blocks.split_off(keep);
        for block in removed.iter().rev() {
            self.by_hash.remove(&block.hash);
            for tx in &block.txs {
                self.tx_index.remove(&tx.hash);
                if repool {
                    self.pool.insert(tx.hash, tx.tx.clone());
                }
            }
            let _ = self.events.send(ChainEvent::Removed(block.clone()));
        }
        Ok(removed)
    }

    /// Records the current chain and pool; `revert` returns to it.
    pub fn snapshot(&mut self) -> u64 {
        let id = self.next_snapshot;
        self.next_snapshot += 1;
        self.snapshots.insert(
            id,
            Snapshot {
                head: self.head().number(),
                pool: self.pool.clone(),
                time_offset: self.time_offset,
            },
        );
        id
    }

    /// Returns to snapshot `id` (which, with every later snapshot, is used up). False when no
    /// such snapshot exists.
    pub fn revert(&mut self, id: u64) -> Result<bool, DevnetError> {
        let Some(snapshot) = self.snapshots.get(&id).cloned() else { return Ok(false) };
        self.truncate(snapshot.head, false)?;
        self.pool = snapshot.pool;
        self.time_offset = snapshot.time_offset;
        self.next_timestamp = None;
        self.snapshots.retain(|k, _| *k < id);
        Ok(true)
    }

    /// Replaces the last `depth` blocks with as many new ones holding the same transactions,
    /// except those in `drop`; transactions in `delay` move to the last new block. A
    /// transaction that becomes invalid (e.g. its sender's earlier nonce was dropped) is left
    /// out too. Subscribers see the old blocks removed, then the new ones.
    pub fn reorg(
        &mut self,
        depth: u64,
        drop: &[B256],
        delay: &[B256],
    ) -> Result<ReorgReport, DevnetError> {
        let head = self.head().number();
        if depth == 0 || depth > head {
            return Err(DevnetError::Request(format!(
                "reorg depth {depth} must be between 1 and the head number {head}"
            )));
        }
        let drop: HashSet<B256> = drop.iter().copied().collect();
        let delay: HashSet<B256> = delay.iter().copied().collect();
        let old: Vec<Arc<MinedBlock>> = self.blocks[self.blocks.len() - depth as usize..].to_vec();
        let timestamps: Vec<u64> = old.iter().map(|b| b.header.timestamp).collect();
        let mut plan: Vec<Vec<Recovered<TxEnvelope>>> = old
            .iter()
            .map(|b| {
                b.txs
                    .iter()
                    .filter(|t| !drop.contains(&t.hash) && !delay.contains(&t.hash))
                    .map(|t| t.tx.clone())
                    .collect()
            })
            .collect();
        let delayed: Vec<Recovered<TxEnvelope>> = old
            .iter()
            .flat_map(|b| b.txs.iter())
            .filter(|t| delay.contains(&t.hash) && !drop.contains(&t.hash))
            .map(|t| t.tx.clone())
            .collect();
        if let Some(last) = plan.last_mut() {
            last.extend(delayed);
        }
        let removed = self.truncate(head - depth, false)?;
        self.reorgs += 1;
        let mut added = Vec::new();
        for (txs, timestamp) in plan.into_iter().zip(timestamps) {
            self.next_timestamp = Some(timestamp.max(self.head().header.timestamp + 1));
            let tag = Bytes::from(format!("devnet reorg {}", self.reorgs).into_bytes());
            added.push(self.build(Source::Listed(txs), tag)?);
        }
        let kept: HashSet<B256> = added.iter().flat_map(|b| b.txs.iter().map(|t| t.hash)).collect();
        let dropped_txs = removed
            .iter()
            .flat_map(|b| b.txs.iter().map(|t| t.hash))
            .filter(|h| !kept.contains(h))
            .collect();
        Ok(ReorgReport {
            depth,
            removed: removed.iter().map(|b| b.hash).collect(),
            added: added.iter().map(|b| b.hash).collect(),
            dropped_txs,
        })
    }

    /// Runs a call on the state after block `number`, under that block's environment.
    pub fn call(
        &self,
        request: &TransactionRequest,
        number: u64,
    ) -> Result<ExecutionResult<HaltReason>, CallError> {
        let block = self
            .block(number)
            .ok_or_else(|| CallError::Invalid(format!("unknown block {number}")))?;
        let view = self.state_at(number)?;
        let header = &block.header;
        let env = BlockEnvInput::from_header(header, None);
        let mut evm_env = crate::execute_local::block::evm_env(&self.rules, &env);
        evm_env.cfg_env.disable_nonce_check = true;
        let no_fee = request.gas_price.is_none() && request.max_fee_per_gas.is_none();
        if no_fee {
            evm_env.cfg_env.disable_base_fee = true;
        }
        let cap = evm_env.cfg_env.tx_gas_limit_cap.unwrap_or(u64::MAX).min(self.config.gas_limit);
        let mut request = request.clone();
        if request.gas.is_none() {
            let spec = self.rules.spec_id(header.number, header.timestamp);
            let cap = if spec >= SpecId::OSAKA {
                cap.min(alloy_eips::eip7825::MAX_TX_GAS_LIMIT_OSAKA)
            } else {
                cap
            };
            request.gas = Some(cap);
        }
        let tx_env: TxEnv =
            request.try_into_tx_env(&evm_env).map_err(|err| CallError::Invalid(err.to_string()))?;
        let db = State::builder().with_database(view.db()).build();
        let mut evm = EthEvmFactory::default().create_evm(db, evm_env);
        ExecutePrecompile::new(self.execute.clone(), ExecuteMeter::unlimited())
            .install(evm.precompiles_mut());
        match evm.transact(tx_env) {
            Ok(result) => Ok(result.result),
            Err(EVMError::Transaction(invalid)) => {
                Err(CallError::Invalid(invalid_message(&invalid)))
            }
            Err(err) => Err(CallError::Internal(DevnetError::Build(err.to_string()))),
        }
    }

    /// The least gas limit with which the call succeeds.
    pub fn estimate_gas(
        &self,
        request: &TransactionRequest,
        number: u64,
    ) -> Result<u64, CallError> {
        let run = |gas: u64| {
            let mut req = request.clone();
            req.gas = Some(gas);
            self.call(&req, number)
        };
        let spec = self.rules.spec_id(number, self.head().header.timestamp);
        let mut hi = request.gas.unwrap_or(self.config.gas_limit);
        if spec >= SpecId::OSAKA {
            hi = hi.min(alloy_eips::eip7825::MAX_TX_GAS_LIMIT_OSAKA);
        }
        let used = match run(hi)? {
            ExecutionResult::Success { gas, .. } => gas.tx_gas_used(),
            ExecutionResult::Revert { output, .. } => return Err(CallError::Reverted { output }),
            ExecutionResult::Halt { reason, .. } => {
                return Err(CallError::Halted(halt_message(&reason, hi)));
            }
        };
        let succeeds = |gas: u64| -> Result<bool, CallError> {
            match run(gas) {
                Ok(ExecutionResult::Success { .. }) => Ok(true),
                Ok(_) => Ok(false),
                Err(CallError::Invalid(_)) => Ok(false),
                Err(err) => Err(err),
            }
        };
        let mut lo = used.saturating_sub(1);
        // Most calls need little more than they use (the 63/64 rule, refunds): try that first.
        let guess = used.saturating_mul(64) / 63 + 2_300;
        if guess < hi && succeeds(guess)? {
            hi = guess;
        }
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if succeeds(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }
}

enum Offer {
    Included,
    Wait,
    Dropped,
}

/// geth's wording for transactions a call cannot run.
pub fn invalid_message(invalid: &InvalidTransaction) -> String {
    match invalid {
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: have {balance} want {fee}")
        }
        InvalidTransaction::CallGasCostMoreThanGasLimit { initial_gas, gas_limit } => {
            format!("intrinsic gas too low: have {gas_limit}, want {initial_gas}")
        }
        InvalidTransaction::GasPriceLessThanBasefee => {
            "max fee per gas less than block base fee".into()
        }
        other => other.to_string(),
    }
}

/// geth's wording for halts.
pub fn halt_message(reason: &HaltReason, gas: u64) -> String {
    match reason {
        HaltReason::OutOfGas(_) => format!("gas required exceeds allowance ({gas})"),
        other => format!("{other:?}"),
    }
}
