//! Loading of Ethereum BlockchainTests fixture files.
//!
//! Input: paths of JSON files in the BlockchainTests format (an object `test name -> test`,
//! each test with `network`, `pre`, `genesisBlockHeader`, `genesisRLP`, `blocks`,
//! `postState` or `postStateHash`, `lastblockhash`, `sealEngine`).
//! Output: typed [`BlockchainTest`]s. Every hex string of the genesis header, the accounts and
//! the block RLP is decoded strictly; a malformed or overflowing value is a
//! [`FixtureError::Field`] naming the file, the test and the field, never a panic.
//! Invariants: `genesis_header` is rebuilt field by field from the JSON, so
//! `genesis_header.hash_slow()` equals `genesis_hash` when the parse is faithful (checked by
//! the tests over every fixture file). A block's `rlp` is the source of truth for execution;
//! `expected_header` (from `blockHeader`) is informational and left `None`, with the reason in
//! `expected_header_error`, if it cannot be decoded.

mod raw;

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, U256};
use raw::{FieldError, RawAccount, RawBlock, RawHeader, RawTest};
use serde::Deserialize as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors while discovering or loading fixture files.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The file is not JSON of the BlockchainTests shape.
    #[error("{path}: not a BlockchainTests JSON file: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    /// One value inside a test could not be decoded.
    #[error("{path}: test {test}: field {field} = {value:?}: {reason}")]
    Field { path: PathBuf, test: String, field: String, value: String, reason: &'static str },
}

/// All tests of one fixture file, by name.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub tests: BTreeMap<String, BlockchainTest>,
}

/// One blockchain test: a genesis state and header, a list of blocks to import in order
/// (some of which must be rejected), and the expected final state.
#[derive(Debug, Clone)]
pub struct BlockchainTest {
    /// Fork name, e.g. `Cancun` or `ShanghaiToCancunAtTime15k`.
    pub network: String,
    /// Genesis allocation.
    pub pre: BTreeMap<Address, GenesisAccount>,
    /// Genesis header rebuilt from `genesisBlockHeader`.
    pub genesis_header: Header,
    /// The `hash` field of `genesisBlockHeader`.
    pub genesis_hash: B256,
    /// `genesisRLP`, when present.
    pub genesis_rlp: Option<Bytes>,
    /// Blocks in file order.
    pub blocks: Vec<FixtureBlock>,
    /// Expected post state (`postState`), absent for large tests.
    pub post_state: Option<BTreeMap<Address, GenesisAccount>>,
    /// Expected post state root (`postStateHash`) when `postState` is omitted.
    pub post_state_hash: Option<B256>,
    /// Hash of the canonical head after all valid blocks (`lastblockhash`).
    pub last_block_hash: B256,
    /// `sealEngine` (`NoProof` in every post-merge fixture).
    pub seal_engine: Option<String>,
}

/// One account of a genesis allocation or of an expected post state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GenesisAccount {
    pub balance: U256,
    pub nonce: u64,
    pub code: Bytes,
    pub storage: BTreeMap<U256, U256>,
}

/// One block of a test.
#[derive(Debug, Clone)]
pub struct FixtureBlock {
    /// RLP of the whole block; decode with `alloy_consensus::Block<TxEnvelope>`.
    pub rlp: Bytes,
    /// Expected rejection reason (e.g. `BlockException.INVALID_GASLIMIT`); `None` = valid.
    pub expect_exception: Option<String>,
    /// Header from `blockHeader`, when present and decodable (informational).
    pub expected_header: Option<Header>,
    /// Why `blockHeader` was present but not decodable.
    pub expected_header_error: Option<String>,
    /// `blocknumber` as written (decimal string), when present.
    pub block_number: Option<String>,
    /// `chainname`, when present (multi-chain tests).
    pub chain_name: Option<String>,
}

/// Reads and decodes one fixture file.
pub fn load_file(path: &Path) -> Result<TestFile, FixtureError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| FixtureError::Io { path: path.to_path_buf(), source })?;
    let raw: BTreeMap<String, RawTest> = serde_json::from_str(&text)
        .map_err(|source| FixtureError::Json { path: path.to_path_buf(), source })?;
    let mut tests = BTreeMap::new();
    for (name, test) in raw {
        let ctx = Ctx { path, test: &name };
        let converted = convert_test(&ctx, test)?;
        tests.insert(name, converted);
    }
    Ok(TestFile { tests })
}

/// Expands files and directories into the sorted, de-duplicated list of `*.json` files
/// (directories are walked recursively; a file given explicitly is kept whatever its name).
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FixtureError> {
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|source| FixtureError::Io { path: path.clone(), source })?;
        if meta.is_dir() {
            walk_dir(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk_dir(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), FixtureError> {
    let io_err = |source| FixtureError::Io { path: dir.to_path_buf(), source };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let path = entry.map_err(io_err)?.path();
        let meta = std::fs::metadata(&path)
            .map_err(|source| FixtureError::Io { path: path.clone(), source })?;
        if meta.is_dir() {
            walk_dir(&path, found)?;
        } else if path.extension().is_some_and(|ext| ext == "json") {
            found.push(path);
        }
    }
    Ok(())
}

/// File and test names, attached to every field error.
struct Ctx<'a> {
    path: &'a Path,
    test: &'a str,
}

impl Ctx<'_> {
    /// Decodes `value` with `parse`, naming `field` in the error.
    fn field<T>(
        &self,
        field: &str,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Result<T, FixtureError> {
        parse(value).map_err(|e| FixtureError::Field {
            path: self.path.to_path_buf(),
            test: self.test.to_string(),
            field: field.to_string(),
            value: value.chars().take(80).collect(),
            reason: e.reason,
        })
    }

    fn opt<T>(
        &self,
        field: &str,
        value: Option<&String>,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Result<Option<T>, FixtureError> {
        value.map(|v| self.field(field, v, parse)).transpose()
    }
}

fn convert_test(ctx: &Ctx<'_>, raw: RawTest) -> Result<BlockchainTest, FixtureError> {
    let genesis_hash =
        ctx.field("genesisBlockHeader.hash", &raw.genesis_block_header.hash, raw::hex_fixed)?;
    let post_state = match &raw.post_state {
        Some(accounts) => Some(convert_accounts(ctx, "postState", accounts)?),
        None => None,
    };
    let blocks = raw.blocks.iter().enumerate().map(|(i, b)| convert_block(ctx, i, b));
    Ok(BlockchainTest {
        network: raw.network.clone(),
        pre: convert_accounts(ctx, "pre", &raw.pre)?,
        genesis_header: convert_header(ctx, "genesisBlockHeader", &raw.genesis_block_header)?,
        genesis_hash,
        genesis_rlp: ctx.opt("genesisRLP", raw.genesis_rlp.as_ref(), raw::hex_bytes)?,
        blocks: blocks.collect::<Result<_, _>>()?,
        post_state,
        post_state_hash: ctx.opt("postStateHash", raw.post_state_hash.as_ref(), raw::hex_fixed)?,
        last_block_hash: ctx.field("lastblockhash", &raw.lastblockhash, raw::hex_fixed)?,
        seal_engine: raw.seal_engine,
    })
}

fn convert_accounts(
    ctx: &Ctx<'_>,
    what: &str,
    raw: &BTreeMap<String, RawAccount>,
) -> Result<BTreeMap<Address, GenesisAccount>, FixtureError> {
    let mut accounts = BTreeMap::new();
    for (address, account) in raw {
        let field = format!("{what}.{address}");
        let address = Address::from(ctx.field(&field, address, raw::hex_fixed::<20>)?);
        let mut storage = BTreeMap::new();
        for (key, value) in &account.storage {
            let key = ctx.field(&format!("{field}.storage"), key, raw::quantity_u256)?;
            let value = ctx.field(&format!("{field}.storage"), value, raw::quantity_u256)?;
            storage.insert(key, value);
        }
        let converted = GenesisAccount {
            balance: ctx.field(
                &format!("{field}.balance"),
                &account.balance,
                raw::quantity_u256,
            )?,
            nonce: ctx.field(&format!("{field}.nonce"), &account.nonce, raw::quantity_u64)?,
            code: ctx.field(&format!("{field}.code"), &account.code, raw::hex_bytes)?,
            storage,
        };
        accounts.insert(address, converted);
    }
    Ok(accounts)
}

fn convert_block(
    ctx: &Ctx<'_>,
    index: usize,
    raw: &RawBlock,
) -> Result<FixtureBlock, FixtureError> {
    let what = format!("blocks[{index}]");
    let (expected_header, expected_header_error) = match &raw.block_header {
        None => (None, None),
        Some(value) => match expected_header(ctx, &what, value) {
            Ok(header) => (Some(header), None),
            Err(err) => (None, Some(err.to_string())),
        },
    };
    Ok(FixtureBlock {
        rlp: ctx.field(&format!("{what}.rlp"), &raw.rlp, raw::hex_bytes)?,
        expect_exception: raw.expect_exception.clone(),
        expected_header,
        expected_header_error,
        block_number: raw.blocknumber.clone(),
        chain_name: raw.chainname.clone(),
    })
}

fn expected_header(
    ctx: &Ctx<'_>,
    what: &str,
    value: &serde_json::Value,
) -> Result<Header, FixtureError> {
    let raw = RawHeader::deserialize(value)
        .map_err(|source| FixtureError::Json { path: ctx.path.to_path_buf(), source })?;
    convert_header(ctx, &format!("{what}.blockHeader"), &raw)
}

/// Rebuilds an `alloy_consensus::Header` from its JSON form (the `hash` field is not used).
fn convert_header(ctx: &Ctx<'_>, what: &str, raw: &RawHeader) -> Result<Header, FixtureError> {
    let f = |name: &str| format!("{what}.{name}");
    let mut header = Header {
        parent_hash: ctx.field(&f("parentHash"), &raw.parent_hash, raw::hex_fixed)?,
        ommers_hash: ctx.field(&f("uncleHash"), &raw.uncle_hash, raw::hex_fixed)?,
        beneficiary: ctx.field(&f("coinbase"), &raw.coinbase, raw::hex_fixed::<20>)?.into(),
        state_root: ctx.field(&f("stateRoot"), &raw.state_root, raw::hex_fixed)?,
        transactions_root: ctx.field(
            &f("transactionsTrie"),
            &raw.transactions_trie,
            raw::hex_fixed,
        )?,
        receipts_root: ctx.field(&f("receiptTrie"), &raw.receipt_trie, raw::hex_fixed)?,
        logs_bloom: ctx.field(&f("bloom"), &raw.bloom, raw::hex_fixed::<256>)?.into(),
        mix_hash: ctx.field(&f("mixHash"), &raw.mix_hash, raw::hex_fixed)?,
        nonce: ctx.field(&f("nonce"), &raw.nonce, raw::hex_fixed)?,
        extra_data: ctx.field(&f("extraData"), &raw.extra_data, raw::hex_bytes)?,
        ..Header::default()
    };
    header.difficulty = ctx.field(&f("difficulty"), &raw.difficulty, raw::quantity_u256)?;
    header.number = ctx.field(&f("number"), &raw.number, raw::quantity_u64)?;
    header.gas_limit = ctx.field(&f("gasLimit"), &raw.gas_limit, raw::quantity_u64)?;
    header.gas_used = ctx.field(&f("gasUsed"), &raw.gas_used, raw::quantity_u64)?;
    header.timestamp = ctx.field(&f("timestamp"), &raw.timestamp, raw::quantity_u64)?;
    add_fork_fields(ctx, what, raw, &mut header)?;
    Ok(header)
}

/// Decodes the optional header fields added by London and later forks.
fn add_fork_fields(
    ctx: &Ctx<'_>,
    what: &str,
    raw: &RawHeader,
    header: &mut Header,
) -> Result<(), FixtureError> {
    let f = |name: &str| format!("{what}.{name}");
    let (fee, root) = (raw.base_fee_per_gas.as_ref(), raw.withdrawals_root.as_ref());
    header.base_fee_per_gas = ctx.opt(&f("baseFeePerGas"), fee, raw::quantity_u64)?;
    header.withdrawals_root = ctx.opt(&f("withdrawalsRoot"), root, raw::hex_fixed)?;
    let (used, excess) = (raw.blob_gas_used.as_ref(), raw.excess_blob_gas.as_ref());
    header.blob_gas_used = ctx.opt(&f("blobGasUsed"), used, raw::quantity_u64)?;
    header.excess_blob_gas = ctx.opt(&f("excessBlobGas"), excess, raw::quantity_u64)?;
    let (beacon, requests) = (raw.parent_beacon_block_root.as_ref(), raw.requests_hash.as_ref());
    header.parent_beacon_block_root =
        ctx.opt(&f("parentBeaconBlockRoot"), beacon, raw::hex_fixed)?;
    header.requests_hash = ctx.opt(&f("requestsHash"), requests, raw::hex_fixed)?;
    Ok(())
}

#[cfg(test)]
mod tests;
