//! Typical L2 blocks for the EXECUTE benchmark, with real signed transactions.
//!
//! Input: [`ExecuteSizes`] (how many background accounts and slots the pre-state holds) and,
//! when the fixtures are present, the ERC-20 runtime code. Output: an [`L2Chain`] (a rocksdb
//! store holding the L2 genesis) and, per [`Kind`] and gas limit, one [`L2Block`] on top of
//! that genesis, filled with transactions up to its gas limit.
//!
//! Every transaction touches state the block has not touched before: ETH goes to fresh
//! accounts, tokens to fresh holders, slots are written fresh or deleted from the contract's
//! existing ones. The pre-state gives trie paths realistic depth: many funded accounts, a
//! storage contract and a token with many occupied slots.

use super::ExecuteSizes;
use crate::bench::fixtures::balance_slot;
use crate::bench::workloads::{STORAGE_WRITER, address};
use crate::execute_local::chain::ChainRules;
use crate::execute_local::chunk::Sealed;
use crate::execute_local::forks::{ForkSchedule, Network, network};
use crate::execute_local::l2::{L2Block, l2_genesis};
use crate::execute_local::replay::GenesisAccount;
use crate::execute_local::store::StateStore;
use crate::protocol::BlockInputs;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;

/// Chain id of the benchmark L2.
pub const L2_CHAIN_ID: u64 = 901;
/// Base fee of every benchmark L2 block (wei).
const L2_BASE_FEE: u64 = 1_000_000_000;
/// Signing keys taking turns in a block.
const SENDERS: u64 = 16;
/// First slot fresh writes go to (far above the occupied ones).
const FRESH_SLOTS: u64 = 1 << 32;

/// The kind of transactions a block is filled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Transfers,
    Storage,
    Erc20,
    Mixed,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Transfers => "ETH transfers",
            Kind::Storage => "storage writes + deletes",
            Kind::Erc20 => "ERC-20 transfers",
            Kind::Mixed => "mixed",
        }
    }

    /// The transactions of one round, repeated until the block is full.
    fn round(self, erc20: bool) -> Vec<Shape> {
        let token = if erc20 { Shape::Erc20 } else { Shape::Transfer };
        match self {
            Kind::Transfers => vec![Shape::Transfer],
            Kind::Storage => vec![Shape::Write(8), Shape::Delete(8)],
            Kind::Erc20 => vec![Shape::Erc20],
            Kind::Mixed => vec![
                Shape::Transfer,
                token,
                Shape::Transfer,
                token,
                Shape::Write(2),
                Shape::Delete(2),
            ],
        }
    }
}

/// One transaction's shape.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Transfer,
    /// Writes this many fresh slots.
    Write(u64),
    /// Deletes this many occupied slots.
    Delete(u64),
    Erc20,
}

impl Shape {
    /// An upper bound of the gas the transaction uses before refunds.
    fn gas_bound(self) -> u64 {
        match self {
            Shape::Transfer => 21_000,
            Shape::Write(slots) => 22_500 + slots * 22_200,
            Shape::Delete(slots) => 22_500 + slots * 5_100,
            Shape::Erc20 => 56_000,
        }
    }

    /// The transaction's gas limit.
    fn gas_limit(self) -> u64 {
        match self {
            Shape::Transfer => 21_000,
            other => other.gas_bound() + 4_000,
        }
    }
}

/// The benchmark L2: its genesis in a store, the signing keys and the contracts.
pub struct L2Chain {
    _dir: tempfile::TempDir,
    pub store: StateStore,
    pub rules: ChainRules,
    pub schedule: ForkSchedule,
    /// The genesis allocation, without the system contracts.
    pub alloc: BTreeMap<Address, GenesisAccount>,
    keys: Vec<PrivateKeySigner>,
    erc20: bool,
    occupied_slots: u64,
}

fn writer() -> Address {
    address("execute-storage-writer", 0)
}

fn token() -> Address {
    address("execute-erc20", 0)
}

fn ether(amount: u64) -> U256 {
    U256::from(amount) * U256::from(10u64.pow(18))
}

/// A temporary store holding `alloc` (plus the system contracts) as the L2 genesis; the
/// directory goes when the returned guard is dropped.
pub fn genesis_store(
    alloc: &BTreeMap<Address, GenesisAccount>,
) -> Result<(tempfile::TempDir, StateStore)> {
    let dir = tempfile::tempdir().context("creating the L2 store directory")?;
    let store = StateStore::open(dir.path())?;
    let (state, header) = l2_genesis(alloc)?;
    let sealed =
        Sealed { hash: header.block_hash(), header: Bytes::copy_from_slice(&header.encode()) };
    state.write(&store, 0, &sealed)?;
    Ok((dir, store))
}

/// `tx` signed by `key`, EIP-2718 encoded.
pub fn sign(key: &PrivateKeySigner, tx: TxEip1559) -> Result<Bytes> {
    let signature = key.sign_hash_sync(&tx.signature_hash()).context("signing")?;
    Ok(TxEnvelope::from(tx.into_signed(signature)).encoded_2718().into())
}

/// The L2 fork schedule: the L1's default fork, which EXECUTE runs L2 blocks under.
pub fn l2_schedule() -> Result<ForkSchedule> {
    match network(crate::execute_local::forks::DEFAULT_FORK) {
        Network::Supported(schedule) => Ok(schedule),
        Network::Skipped { reason } => {
            bail!("fork {}: {reason}", crate::execute_local::forks::DEFAULT_FORK)
        }
    }
}

impl L2Chain {
    /// Builds the pre-state and writes it as the L2 genesis into a temporary store.
    pub fn new(sizes: &ExecuteSizes, erc20_code: Option<Bytes>) -> Result<Self> {
        let keys = (0..SENDERS)
            .map(|i| PrivateKeySigner::from_bytes(&keccak256(format!("execute-bench-key-{i}"))))
            .collect::<Result<Vec<_>, _>>()
            .context("deriving the signing keys")?;
        let alloc = genesis_alloc(sizes, &keys, erc20_code.clone());
        let (dir, store) = genesis_store(&alloc)?;
        let schedule = l2_schedule()?;
        Ok(Self {
            _dir: dir,
            store,
            rules: ChainRules::new(L2_CHAIN_ID, schedule.clone()),
            schedule,
            alloc,
            keys,
            erc20: erc20_code.is_some(),
            occupied_slots: sizes.background_slots,
        })
    }

    /// Whether the ERC-20 contract is in the pre-state.
    pub fn has_erc20(&self) -> bool {
        self.erc20
    }

    /// Block 1 on top of the genesis, filled with `kind` up to `gas_limit`.
    pub fn block(&self, kind: Kind, gas_limit: u64) -> Result<L2Block> {
        let mut nonces = vec![0u64; self.keys.len()];
        let mut cursor = Cursor::default();
        let mut bound = 0u64;
        let mut transactions = Vec::new();
        for shape in kind.round(self.erc20).into_iter().cycle() {
            if bound + shape.gas_limit() > gas_limit {
                break;
            }
            let from = transactions.len() % self.keys.len();
            let raw = self.sign(from, nonces[from], shape, &mut cursor)?;
            nonces[from] += 1;
            bound += shape.gas_bound();
            transactions.push(raw);
        }
        if cursor.deleted > self.occupied_slots {
            let (deleted, occupied) = (cursor.deleted, self.occupied_slots);
            bail!("{}: deletes {deleted} slots, the pre-state holds {occupied}", kind.name());
        }
        let inputs = BlockInputs {
            number: 1,
            timestamp: 1_800_000_002,
            fee_recipient: address("execute-fee-recipient", 0),
            prev_randao: keccak256(b"execute-bench-randao"),
            gas_limit,
            base_fee: L2_BASE_FEE,
            l1_anchor: keccak256(b"execute-bench-l1-anchor"),
            transactions,
        };
        Ok(L2Block::new(inputs)?)
    }

    /// One signed EIP-1559 transaction of `shape` from key `from`.
    fn sign(&self, from: usize, nonce: u64, shape: Shape, cursor: &mut Cursor) -> Result<Bytes> {
        let (to, value, input) = cursor.next(shape);
        let tx = TxEip1559 {
            chain_id: L2_CHAIN_ID,
            nonce,
            gas_limit: shape.gas_limit(),
            max_fee_per_gas: 2 * u128::from(L2_BASE_FEE),
            max_priority_fee_per_gas: 1_000_000,
            to: TxKind::Call(to),
            value,
            access_list: Default::default(),
            input,
        };
        let key = self.keys.get(from).context("sender index")?;
        sign(key, tx)
    }
}

/// Where the next transaction's fresh account, fresh slots or occupied slots come from.
#[derive(Debug, Default)]
struct Cursor {
    fresh: u64,
    written: u64,
    deleted: u64,
}

impl Cursor {
    fn next(&mut self, shape: Shape) -> (Address, U256, Bytes) {
        self.fresh += 1;
        match shape {
            Shape::Transfer => {
                (address("execute-recipient", self.fresh), U256::from(1), Bytes::new())
            }
            Shape::Write(slots) => {
                self.written += slots;
                (writer(), U256::ZERO, words(FRESH_SLOTS + self.written - slots, slots, 7))
            }
            Shape::Delete(slots) => {
                self.deleted += slots;
                (writer(), U256::ZERO, words(self.deleted - slots, slots, 0))
            }
            Shape::Erc20 => {
                let mut input = vec![0xa9, 0x05, 0x9c, 0xbb];
                input.extend_from_slice(&[0u8; 12]);
                input.extend_from_slice(address("execute-holder", self.fresh).as_slice());
                input.extend_from_slice(&U256::from(1000).to_be_bytes::<32>());
                (token(), U256::ZERO, input.into())
            }
        }
    }
}

/// The storage writer's call data: start, count, value.
fn words(start: u64, count: u64, value: u64) -> Bytes {
    [start, count, value].iter().flat_map(|w| U256::from(*w).to_be_bytes::<32>()).collect()
}

fn genesis_alloc(
    sizes: &ExecuteSizes,
    keys: &[PrivateKeySigner],
    erc20_code: Option<Bytes>,
) -> BTreeMap<Address, GenesisAccount> {
    let funded = |eth| GenesisAccount { balance: ether(eth), ..Default::default() };
    let mut alloc: BTreeMap<Address, GenesisAccount> = (0..sizes.background_accounts)
        .map(|i| (address("execute-background", i), funded(1)))
        .collect();
    alloc.extend(keys.iter().map(|key| (key.address(), funded(1_000))));
    let occupied = (0..sizes.background_slots).map(|i| (U256::from(i), U256::from(1 + i)));
    alloc.insert(
        writer(),
        GenesisAccount {
            nonce: 1,
            code: Bytes::from_static(STORAGE_WRITER),
            storage: occupied.collect(),
            ..Default::default()
        },
    );
    if let Some(code) = erc20_code {
        let holders = (0..sizes.background_slots).map(|i| address("execute-token-background", i));
        let mut storage: BTreeMap<U256, U256> =
            holders.map(|holder| (balance_slot(holder), U256::from(1_000))).collect();
        storage.extend(keys.iter().map(|key| (balance_slot(key.address()), U256::from(u64::MAX))));
        alloc.insert(token(), GenesisAccount { nonce: 1, code, storage, ..Default::default() });
    }
    alloc
}
