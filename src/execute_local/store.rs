//! The L2 state in rocksdb: flat accounts, storage and code for fast reads during execution,
//! content-addressed trie nodes for state roots and witnesses, block hashes, per-block undo
//! records, and the head.
//!
//! Column families and keys:
//! - `accounts`: address (20) -> RLP [nonce, balance, code_hash]
//! - `storage`:  address (20) ++ slot (32) -> value, 32 bytes big-endian (zero is never stored)
//! - `code`:     code hash (32) -> bytecode
//! - `nodes`:    keccak256(node) (32) -> node RLP; never deleted, so any earlier root stays
//!   readable and rolling back is only a matter of flat state and the head
//! - `headers`:  block number (8, big-endian) -> block hash (32) ++ header bytes
//! - `undo`:     block number (8, big-endian) -> what the block overwrote (see [`super::commit`])
//! - `bodies`:   block number (8, big-endian) -> the block's body, in the writer's own format
//!   (the dev L1 keeps its transactions and receipts here; the L2 replay stores none)
//! - `meta`:     `head` -> number (8) ++ block hash (32) ++ state root (32); `snapshot` ->
//!   batch id (8) ++ block number (8) ++ block hash (32) when the store was initialised from a
//!   snapshot instead of a genesis (see `crate::snapshot`)
//!
//! Invariant: everything a block changes, its undo record and the new head are written in ONE
//! `WriteBatch`, so a crash leaves the store at one block boundary or the next.

use super::db::decode_bytecode;
use super::fault::{DbFault, Fault, FaultSlot};
use super::trie::{NodeSource, NodeSourceError};
use super::tries::StateDiff;
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use revm::{Database, bytecode::Bytecode, state::AccountInfo};
use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch,
};
use std::collections::HashMap;
use std::path::Path;

pub(super) const CF_ACCOUNTS: &str = "accounts";
pub(super) const CF_STORAGE: &str = "storage";
pub(super) const CF_CODE: &str = "code";
pub(super) const CF_NODES: &str = "nodes";
pub(super) const CF_HEADERS: &str = "headers";
pub(super) const CF_UNDO: &str = "undo";
pub(super) const CF_META: &str = "meta";
pub(super) const CF_BODIES: &str = "bodies";
const ALL_CFS: [&str; 8] =
    [CF_ACCOUNTS, CF_STORAGE, CF_CODE, CF_NODES, CF_HEADERS, CF_UNDO, CF_META, CF_BODIES];
pub(super) const HEAD_KEY: &[u8] = b"head";
const SNAPSHOT_KEY: &[u8] = b"snapshot";

/// Errors of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("column family {name} is missing")]
    MissingColumnFamily { name: &'static str },
    #[error("corrupt {what} record: {reason}")]
    Corrupt { what: &'static str, reason: String },
    #[error("store is empty: initialise it with a genesis state first")]
    Uninitialised,
    #[error("store already holds a chain (head {number})")]
    AlreadyInitialised { number: u64 },
    #[error("cannot roll back to block {target}: head is {head}, oldest undo record is {oldest}")]
    RollbackOutOfRange { target: u64, head: u64, oldest: u64 },
    #[error("block {number} does not extend head {head}")]
    NotNextBlock { number: u64, head: u64 },
}

/// The newest block applied to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub number: u64,
    pub hash: B256,
    pub state_root: B256,
}

impl Head {
    pub(super) fn encode(&self) -> [u8; 72] {
        let mut out = [0u8; 72];
        out[..8].copy_from_slice(&self.number.to_be_bytes());
        out[8..40].copy_from_slice(self.hash.as_slice());
        out[40..].copy_from_slice(self.state_root.as_slice());
        out
    }

    pub(super) fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let corrupt =
            || StoreError::Corrupt { what: "head", reason: format!("{} bytes", bytes.len()) };
        if bytes.len() != 72 {
            return Err(corrupt());
        }
        let number = u64::from_be_bytes(bytes[..8].try_into().map_err(|_| corrupt())?);
        Ok(Self {
            number,
            hash: B256::from_slice(&bytes[8..40]),
            state_root: B256::from_slice(&bytes[40..]),
        })
    }
}

/// Where a store initialised from a snapshot starts: the batch and its last block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotBase {
    pub batch_id: u64,
    pub number: u64,
    pub hash: B256,
}

/// The state of one block written into an empty store at once (a verified snapshot).
#[derive(Debug)]
pub struct StateImport<'a> {
    pub base: SnapshotBase,
    pub head: Head,
    /// The head's header and its ancestors': (number, hash, header bytes).
    pub headers: &'a [(u64, B256, Bytes)],
    pub diff: &'a StateDiff,
    pub nodes: &'a [(B256, Bytes)],
}

/// Nonce, balance and code hash, as kept in the flat `accounts` family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct FlatAccount {
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
}

impl FlatAccount {
    pub(super) fn encoded(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.length());
        self.encode(&mut out);
        out
    }
}

/// The rocksdb-backed L2 state.
pub struct StateStore {
    pub(super) db: DB,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore").field("path", &self.db.path()).finish()
    }
}

pub(super) fn storage_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    key
}

impl StateStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, Options::default())
    }

    /// A store whose files live in memory (rocksdb's in-memory environment): the same
    /// database code, no disk. For short-lived chains such as one conformance test.
    pub fn open_in_memory(name: &Path) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.set_env(&rocksdb::Env::mem_env()?);
        Self::open_with(name, opts)
    }

    fn open_with(path: &Path, mut opts: Options) -> Result<Self, StoreError> {
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let cfs = ALL_CFS.iter().map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(Self { db })
    }

    /// Opens an existing store for reading only; a daemon may have it open at the same time
    /// (this sees the store as it was when opened).
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let cfs = ALL_CFS.iter().map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors_read_only(&Options::default(), path, cfs, false)?;
        Ok(Self { db })
    }

    pub(super) fn cf(&self, name: &'static str) -> Result<&ColumnFamily, StoreError> {
        self.db.cf_handle(name).ok_or(StoreError::MissingColumnFamily { name })
    }

    /// The newest applied block, if any.
    pub fn head(&self) -> Result<Option<Head>, StoreError> {
        self.db.get_cf(self.cf(CF_META)?, HEAD_KEY)?.map(|b| Head::decode(&b)).transpose()
    }

    pub fn account(&self, address: &Address) -> Result<Option<FlatAccount>, StoreError> {
        let Some(bytes) = self.db.get_pinned_cf(self.cf(CF_ACCOUNTS)?, address)? else {
            return Ok(None);
        };
        FlatAccount::decode(&mut &bytes[..])
            .map(Some)
            .map_err(|err| StoreError::Corrupt { what: "account", reason: err.to_string() })
    }

    pub fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        let key = storage_key(address, slot);
        let Some(bytes) = self.db.get_pinned_cf(self.cf(CF_STORAGE)?, key)? else {
            return Ok(U256::ZERO);
        };
        U256::try_from_be_slice(&bytes).ok_or_else(|| StoreError::Corrupt {
            what: "storage",
            reason: format!("{} bytes", bytes.len()),
        })
    }

    pub fn code(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        Ok(self.db.get_cf(self.cf(CF_CODE)?, hash)?.map(Bytes::from))
    }

    /// Hash and header bytes of block `number`, if stored.
    pub fn header(&self, number: u64) -> Result<Option<(B256, Bytes)>, StoreError> {
        let Some(bytes) = self.db.get_cf(self.cf(CF_HEADERS)?, number.to_be_bytes())? else {
            return Ok(None);
        };
        if bytes.len() < 32 {
            return Err(StoreError::Corrupt {
                what: "header",
                reason: format!("{} bytes", bytes.len()),
            });
        }
        Ok(Some((B256::from_slice(&bytes[..32]), Bytes::copy_from_slice(&bytes[32..]))))
    }

    /// The body stored with block `number`, if any.
    pub fn body(&self, number: u64) -> Result<Option<Bytes>, StoreError> {
        Ok(self.db.get_cf(self.cf(CF_BODIES)?, number.to_be_bytes())?.map(Bytes::from))
    }

    pub fn block_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        Ok(self.header(number)?.map(|(hash, _)| hash))
    }

    /// Whether `address` has a stored slot that `counts` (key order, stopping at the first).
    pub fn any_slot(
        &self,
        address: &Address,
        mut counts: impl FnMut(&U256) -> bool,
    ) -> Result<bool, StoreError> {
        let cf = self.cf(CF_STORAGE)?;
        let mode = IteratorMode::From(address.as_slice(), Direction::Forward);
        for item in self.db.iterator_cf(cf, mode) {
            let (key, _) = item?;
            if !key.starts_with(address.as_slice()) {
                break;
            }
            let slot = U256::try_from_be_slice(&key[20..])
                .ok_or(StoreError::Corrupt { what: "storage", reason: "bad key".into() })?;
            if counts(&slot) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Every stored slot of `address`, in key order.
    pub fn storage_of(&self, address: &Address) -> Result<Vec<(U256, U256)>, StoreError> {
        let cf = self.cf(CF_STORAGE)?;
        let mode = IteratorMode::From(address.as_slice(), Direction::Forward);
        let mut slots = Vec::new();
        for item in self.db.iterator_cf(cf, mode) {
            let (key, value) = item?;
            if !key.starts_with(address.as_slice()) {
                break;
            }
            let slot = U256::try_from_be_slice(&key[20..]);
            let value = U256::try_from_be_slice(&value);
            match slot.zip(value) {
                Some(pair) => slots.push(pair),
                None => {
                    return Err(StoreError::Corrupt {
                        what: "storage",
                        reason: "bad key or value".into(),
                    });
                }
            }
        }
        Ok(slots)
    }
}

impl StateStore {
    /// Calls `visit` with every flat account, in address order; stops at its first error.
    pub fn for_each_account<E: From<StoreError>>(
        &self,
        mut visit: impl FnMut(Address, FlatAccount) -> Result<(), E>,
    ) -> Result<(), E> {
        let cf = self.cf(CF_ACCOUNTS)?;
        for item in self.db.iterator_cf(cf, IteratorMode::Start) {
            let (key, value) = item.map_err(StoreError::from)?;
            if key.len() != 20 {
                let reason = format!("key of {} bytes", key.len());
                return Err(StoreError::Corrupt { what: "account", reason }.into());
            }
            let account = FlatAccount::decode(&mut &value[..])
                .map_err(|err| StoreError::Corrupt { what: "account", reason: err.to_string() })?;
            visit(Address::from_slice(&key), account)?;
        }
        Ok(())
    }

    /// The snapshot this store was initialised from, if it was.
    pub fn snapshot_base(&self) -> Result<Option<SnapshotBase>, StoreError> {
        let Some(bytes) = self.db.get_cf(self.cf(CF_META)?, SNAPSHOT_KEY)? else {
            return Ok(None);
        };
        if bytes.len() != 48 {
            let reason = format!("{} bytes", bytes.len());
            return Err(StoreError::Corrupt { what: "snapshot base", reason });
        }
        let word = |at: usize| {
            let mut out = [0u8; 8];
            out.copy_from_slice(&bytes[at..at + 8]);
            u64::from_be_bytes(out)
        };
        Ok(Some(SnapshotBase {
            batch_id: word(0),
            number: word(8),
            hash: B256::from_slice(&bytes[16..48]),
        }))
    }

    /// Writes a whole state into an empty store in one batch: accounts, slots, codes, trie
    /// nodes, the headers, the head and the snapshot base. The caller has checked it all.
    pub fn import_state(&self, import: StateImport<'_>) -> Result<Head, StoreError> {
        if let Some(head) = self.head()? {
            return Err(StoreError::AlreadyInitialised { number: head.number });
        }
        let mut batch = WriteBatch::default();
        let (accounts, storage) = (self.cf(CF_ACCOUNTS)?, self.cf(CF_STORAGE)?);
        for change in &import.diff.accounts {
            let Some(b) = change.basics else { continue };
            let flat = FlatAccount { nonce: b.nonce, balance: b.balance, code_hash: b.code_hash };
            batch.put_cf(accounts, change.address, flat.encoded());
            for (slot, value) in change.storage.iter().filter(|(_, v)| !v.is_zero()) {
                batch.put_cf(
                    storage,
                    storage_key(&change.address, slot),
                    value.to_be_bytes::<32>(),
                );
            }
        }
        let code = self.cf(CF_CODE)?;
        for (hash, bytes) in &import.diff.codes {
            batch.put_cf(code, hash, bytes);
        }
        let nodes = self.cf(CF_NODES)?;
        for (hash, node) in import.nodes {
            batch.put_cf(nodes, hash, node);
        }
        let headers = self.cf(CF_HEADERS)?;
        for (number, hash, header) in import.headers {
            batch.put_cf(headers, number.to_be_bytes(), [hash.as_slice(), header].concat());
        }
        let meta = self.cf(CF_META)?;
        let base = import.base;
        let marker =
            [&base.batch_id.to_be_bytes()[..], &base.number.to_be_bytes(), base.hash.as_slice()];
        batch.put_cf(meta, SNAPSHOT_KEY, marker.concat());
        batch.put_cf(meta, HEAD_KEY, import.head.encode());
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts)?;
        Ok(import.head)
    }
}

impl NodeSource for StateStore {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, NodeSourceError> {
        let cf = self.cf(CF_NODES).map_err(|err| NodeSourceError::new(err.to_string()))?;
        let found =
            self.db.get_cf(cf, hash).map_err(|err| NodeSourceError::new(err.to_string()))?;
        Ok(found.map(Bytes::from))
    }
}

/// Flat accounts and slots that differ from the store's current flat state: the state of an
/// earlier block (see [`StateStore::overlay_at`]). `None` / zero: absent at that block.
#[derive(Debug, Default, Clone)]
pub struct Overlay {
    accounts: HashMap<Address, Option<FlatAccount>>,
    storage: HashMap<(Address, U256), U256>,
}

impl Overlay {
    /// The accounts that differ, `None`: absent at the overlay's block.
    pub fn accounts(&self) -> impl Iterator<Item = (&Address, &Option<FlatAccount>)> {
        self.accounts.iter()
    }

    /// The slots that differ, zero: absent at the overlay's block.
    pub fn slots(&self) -> impl Iterator<Item = (&(Address, U256), &U256)> {
        self.storage.iter()
    }

    /// Records the value of one undo key (column family index 0 accounts, 1 storage).
    pub(super) fn insert(
        &mut self,
        cf: u8,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let corrupt =
            |reason: &str| StoreError::Corrupt { what: "undo", reason: reason.to_string() };
        match (cf, key.len()) {
            (0, 20) => {
                let account = value
                    .map(|mut bytes| FlatAccount::decode(&mut bytes))
                    .transpose()
                    .map_err(|err| corrupt(&err.to_string()))?;
                self.accounts.insert(Address::from_slice(key), account);
            }
            (1, 52) => {
                let slot = U256::from_be_slice(&key[20..]);
                let value = value.map_or(U256::ZERO, U256::from_be_slice);
                self.storage.insert((Address::from_slice(&key[..20]), slot), value);
            }
            _ => return Err(corrupt("unexpected key")),
        }
        Ok(())
    }
}

/// revm database over the flat state of a [`StateStore`] (the stateful replay path), or over
/// an earlier block's state through an [`Overlay`].
#[derive(Debug)]
pub struct FlatDb<'a> {
    store: &'a StateStore,
    overlay: Option<&'a Overlay>,
    fault: Fault,
}

impl<'a> FlatDb<'a> {
    pub fn new(store: &'a StateStore) -> Self {
        Self { store, overlay: None, fault: Fault::default() }
    }

    /// Reads the state `overlay` describes (an earlier block's).
    pub fn with_overlay(store: &'a StateStore, overlay: &'a Overlay) -> Self {
        Self { store, overlay: Some(overlay), fault: Fault::default() }
    }

    fn store_fault(&mut self, err: StoreError) -> DbFault {
        self.fault.record(DbFault::Store { reason: err.to_string() })
    }
}

impl Database for FlatDb<'_> {
    type Error = DbFault;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, DbFault> {
        let account = match self.overlay.and_then(|o| o.accounts.get(&address)) {
            Some(account) => *account,
            None => self.store.account(&address).map_err(|err| self.store_fault(err))?,
        };
        Ok(account.map(|a| AccountInfo {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
            code: None,
            ..Default::default()
        }))
    }

    fn code_by_hash(&mut self, hash: B256) -> Result<Bytecode, DbFault> {
        if hash == KECCAK256_EMPTY || hash == B256::ZERO {
            return Ok(Bytecode::default());
        }
        match self.store.code(&hash) {
            Ok(Some(code)) => decode_bytecode(hash, code).map_err(|f| self.fault.record(f)),
            Ok(None) => Err(self.fault.record(DbFault::MissingCode { hash })),
            Err(err) => Err(self.store_fault(err)),
        }
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, DbFault> {
        if let Some(value) = self.overlay.and_then(|o| o.storage.get(&(address, index))) {
            return Ok(*value);
        }
        self.store.storage(&address, &index).map_err(|err| self.store_fault(err))
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, DbFault> {
        match self.store.block_hash(number) {
            Ok(Some(hash)) => Ok(hash),
            Ok(None) => Err(self.fault.record(DbFault::MissingBlockHash { number })),
            Err(err) => Err(self.store_fault(err)),
        }
    }
}

impl FaultSlot for FlatDb<'_> {
    fn take_fault(&mut self) -> Option<DbFault> {
        self.fault.take()
    }

    /// From the flat slots (seen through the overlay, if any); stops at the first one.
    fn has_storage(&mut self, address: Address) -> Result<bool, DbFault> {
        let overlay = self.overlay;
        let overridden = |slot: &U256| overlay.and_then(|o| o.storage.get(&(address, *slot)));
        if let Some(o) = overlay
            && o.storage.iter().any(|((a, _), value)| *a == address && !value.is_zero())
        {
            return Ok(true);
        }
        let stored = self.store.any_slot(&address, |slot| overridden(slot).is_none());
        stored.map_err(|err| self.store_fault(err))
    }
}
