//! Post-merge Ethereum block validity rules that an execution client checks around execution:
//! header against parent (before execution) and body against header.
//!
//! Input: a block header and its parent (already accepted) header, or a decoded block, plus the
//! [`ForkSchedule`] of the chain. The fork in force is the one active at the *child's*
//! timestamp, so the first block of a transition follows the new fork's rules.
//! Output: `Ok(())` or the first violated rule as a [`HeaderError`] with got/expected values.
//! Invariants: pure functions, no panics on any input (fee formulas are computed in u128 and
//! saturate); only Paris and later rules (no proof-of-work, difficulty or ommer rewards).
//! Post-execution checks (state root, receipts root, bloom, gas used, requests hash) are the
//! executor's job and are not here.

use super::forks::{ForkSchedule, PostMergeFork};
use alloy_consensus::Header;
use alloy_consensus::constants::{EMPTY_OMMER_ROOT_HASH, MAXIMUM_EXTRA_DATA_SIZE};
use alloy_eips::eip1559::{BaseFeeParams, INITIAL_BASE_FEE};
use alloy_eips::eip4844::DATA_GAS_PER_BLOB;
use alloy_eips::eip7840::BlobParams;
use alloy_primitives::{B64, B256, U256};

/// Minimum block gas limit.
pub const MIN_GAS_LIMIT: u64 = 5000;
/// Maximum block gas limit (2^63 - 1), as enforced by execution clients.
pub const MAX_GAS_LIMIT: u64 = 0x7fff_ffff_ffff_ffff;
/// Gas limit may move by less than `parent / GAS_LIMIT_BOUND_DIVISOR` per block.
pub const GAS_LIMIT_BOUND_DIVISOR: u64 = 1024;
/// EIP-7934 (Osaka): maximum RLP-encoded block size, 10 MiB minus a 2 MiB margin.
pub const MAX_RLP_BLOCK_SIZE: usize = 10 * 1024 * 1024 - 2 * 1024 * 1024;

/// A violated block validity rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("block number {got}, expected parent + 1 = {expected}")]
    Number { got: u64, expected: u64 },
    #[error("parent hash {got}, expected {expected}")]
    ParentHash { got: B256, expected: B256 },
    #[error("timestamp {got} not after parent timestamp {parent}")]
    Timestamp { got: u64, parent: u64 },
    #[error("gas limit {got} moves too far from parent {parent} (max delta {max_delta})")]
    GasLimitChange { got: u64, parent: u64, max_delta: u64 },
    #[error("gas limit {got} below minimum {minimum}")]
    GasLimitTooLow { got: u64, minimum: u64 },
    #[error("gas limit {got} above maximum {maximum}")]
    GasLimitTooHigh { got: u64, maximum: u64 },
    #[error("gas used {got} exceeds gas limit {limit}")]
    GasUsedExceedsLimit { got: u64, limit: u64 },
    #[error("extra data is {got} bytes, maximum {maximum}")]
    ExtraDataTooLong { got: usize, maximum: usize },
    #[error("difficulty {got}, expected 0 after the merge")]
    Difficulty { got: U256 },
    #[error("nonce {got}, expected 0 after the merge")]
    Nonce { got: B64 },
    #[error("ommers hash {got}, expected {expected}")]
    OmmersHash { got: B256, expected: B256 },
    #[error("base fee {got}, expected {expected}")]
    BaseFee { got: u64, expected: u64 },
    #[error("header field {field} missing under {fork:?}")]
    MissingField { field: &'static str, fork: PostMergeFork },
    #[error("header field {field} present before its fork (block is {fork:?})")]
    UnexpectedField { field: &'static str, fork: PostMergeFork },
    #[error("excess blob gas {got}, expected {expected}")]
    ExcessBlobGas { got: u64, expected: u64 },
    #[error("blob gas used {got} is not a multiple of {per_blob}")]
    BlobGasUsedNotMultiple { got: u64, per_blob: u64 },
    #[error("blob gas used {got} above maximum {maximum}")]
    BlobGasUsedTooHigh { got: u64, maximum: u64 },
    #[error("transactions root {got}, expected {expected}")]
    TransactionsRoot { got: B256, expected: B256 },
    #[error("{count} ommers in a post-merge block")]
    OmmersPresent { count: usize },
    #[error("withdrawals presence {got}, expected {expected} under {fork:?}")]
    WithdrawalsPresence { got: bool, expected: bool, fork: PostMergeFork },
    #[error("withdrawals root {got}, expected {expected}")]
    WithdrawalsRoot { got: B256, expected: B256 },
    #[error("transaction {index} is a blob transaction under {fork:?}")]
    BlobTransactionBeforeCancun { index: usize, fork: PostMergeFork },
    #[error("transaction {index} has {got} blobs, maximum {maximum}")]
    TooManyBlobsInTransaction { index: usize, got: u64, maximum: u64 },
    #[error("transaction {index} carries its blob sidecar (network form) inside a block")]
    BlobSidecarInBlock { index: usize },
    #[error("header blob gas used {got}, transactions use {expected}")]
    BlobGasUsedMismatch { got: u64, expected: u64 },
    #[error("block RLP is {got} bytes, maximum {maximum}")]
    BlockTooLarge { got: usize, maximum: usize },
}

/// Header checks that need only the header and its parent (run before execution).
pub fn validate_header_against_parent(
    header: &Header,
    parent: &Header,
    schedule: &ForkSchedule,
) -> Result<(), HeaderError> {
    let fork = schedule.fork_at(header.timestamp);
    check_lineage(header, parent)?;
    check_gas(header, parent)?;
    check_merge_constants(header)?;
    check_fork_fields(header, fork)?;
    check_base_fee(header, parent)?;
    if let Some(params) = schedule.blob_params_at(header.timestamp) {
        check_blob_gas(header, parent, &params)?;
    }
    Ok(())
}

fn check_lineage(header: &Header, parent: &Header) -> Result<(), HeaderError> {
    let expected = parent.number.saturating_add(1);
    if header.number != expected || parent.number == u64::MAX {
        return Err(HeaderError::Number { got: header.number, expected });
    }
    let parent_hash = parent.hash_slow();
    if header.parent_hash != parent_hash {
        return Err(HeaderError::ParentHash { got: header.parent_hash, expected: parent_hash });
    }
    if header.timestamp <= parent.timestamp {
        return Err(HeaderError::Timestamp { got: header.timestamp, parent: parent.timestamp });
    }
    Ok(())
}

fn check_gas(header: &Header, parent: &Header) -> Result<(), HeaderError> {
    let (got, parent_limit) = (header.gas_limit, parent.gas_limit);
    if got > MAX_GAS_LIMIT {
        return Err(HeaderError::GasLimitTooHigh { got, maximum: MAX_GAS_LIMIT });
    }
    let max_delta = (parent_limit / GAS_LIMIT_BOUND_DIVISOR).saturating_sub(1);
    if got.abs_diff(parent_limit) > max_delta {
        return Err(HeaderError::GasLimitChange { got, parent: parent_limit, max_delta });
    }
    if got < MIN_GAS_LIMIT {
        return Err(HeaderError::GasLimitTooLow { got, minimum: MIN_GAS_LIMIT });
    }
    if header.gas_used > got {
        return Err(HeaderError::GasUsedExceedsLimit { got: header.gas_used, limit: got });
    }
    Ok(())
}

fn check_merge_constants(header: &Header) -> Result<(), HeaderError> {
    if header.extra_data.len() > MAXIMUM_EXTRA_DATA_SIZE {
        let got = header.extra_data.len();
        return Err(HeaderError::ExtraDataTooLong { got, maximum: MAXIMUM_EXTRA_DATA_SIZE });
    }
    if !header.difficulty.is_zero() {
        return Err(HeaderError::Difficulty { got: header.difficulty });
    }
    if header.nonce != B64::ZERO {
        return Err(HeaderError::Nonce { got: header.nonce });
    }
    if header.ommers_hash != EMPTY_OMMER_ROOT_HASH {
        return Err(HeaderError::OmmersHash {
            got: header.ommers_hash,
            expected: EMPTY_OMMER_ROOT_HASH,
        });
    }
    Ok(())
}

/// Optional header fields must be present exactly from the fork that introduced them.
fn check_fork_fields(header: &Header, fork: PostMergeFork) -> Result<(), HeaderError> {
    use PostMergeFork::{Cancun, Paris, Prague, Shanghai};
    let fields: [(&'static str, bool, PostMergeFork); 6] = [
        ("base_fee_per_gas", header.base_fee_per_gas.is_some(), Paris),
        ("withdrawals_root", header.withdrawals_root.is_some(), Shanghai),
        ("blob_gas_used", header.blob_gas_used.is_some(), Cancun),
        ("excess_blob_gas", header.excess_blob_gas.is_some(), Cancun),
        ("parent_beacon_block_root", header.parent_beacon_block_root.is_some(), Cancun),
        ("requests_hash", header.requests_hash.is_some(), Prague),
    ];
    for (field, present, since) in fields {
        match (present, fork >= since) {
            (false, true) => return Err(HeaderError::MissingField { field, fork }),
            (true, false) => return Err(HeaderError::UnexpectedField { field, fork }),
            _ => {}
        }
    }
    // Amsterdam fields: no supported fork has them.
    let future = [
        ("block_access_list_hash", header.block_access_list_hash.is_some()),
        ("slot_number", header.slot_number.is_some()),
    ];
    match future.into_iter().find(|(_, present)| *present) {
        Some((field, _)) => Err(HeaderError::UnexpectedField { field, fork }),
        None => Ok(()),
    }
}

fn check_base_fee(header: &Header, parent: &Header) -> Result<(), HeaderError> {
    let expected = match parent.base_fee_per_gas {
        Some(parent_fee) => next_base_fee(parent.gas_used, parent.gas_limit, parent_fee),
        None => INITIAL_BASE_FEE,
    };
    match header.base_fee_per_gas {
        Some(got) if got == expected => Ok(()),
        Some(got) => Err(HeaderError::BaseFee { got, expected }),
        None => {
            Err(HeaderError::MissingField { field: "base_fee_per_gas", fork: PostMergeFork::Paris })
        }
    }
}

/// EIP-1559 base fee of the child of a block (same formula as
/// `alloy_eips::eip1559::calc_next_block_base_fee` with `BaseFeeParams::ethereum()`), computed
/// in u128 and saturated so that hostile parent values cannot overflow.
pub fn next_base_fee(parent_gas_used: u64, parent_gas_limit: u64, parent_base_fee: u64) -> u64 {
    let params = BaseFeeParams::ethereum();
    let target = u128::from(parent_gas_limit) / params.elasticity_multiplier;
    let (used, fee) = (u128::from(parent_gas_used), u128::from(parent_base_fee));
    if target == 0 || used == target {
        return parent_base_fee;
    }
    let denominator = target * params.max_change_denominator;
    let next = if used > target {
        fee + (fee * (used - target) / denominator).max(1)
    } else {
        fee - fee * (target - used) / denominator
    };
    u64::try_from(next).unwrap_or(u64::MAX)
}

/// EIP-4844 excess blob gas of the child of `parent` under `params`, with the EIP-7918
/// reserve-price rule when `params.blob_base_cost > 0` (Osaka). A parent from before Cancun
/// counts as zero excess and zero usage. Mirrors `BlobParams::next_block_excess_blob_gas_osaka`
/// without its unchecked additions.
pub fn next_excess_blob_gas(parent: &Header, params: &BlobParams) -> u64 {
    let excess = parent.excess_blob_gas.unwrap_or(0);
    let used = parent.blob_gas_used.unwrap_or(0);
    let base_fee = parent.base_fee_per_gas.unwrap_or(0);
    let total = u128::from(excess) + u128::from(used);
    let target = u128::from(params.target_blob_gas_per_block());
    if total < target {
        return 0;
    }
    let reserve = U256::from(params.blob_base_cost) * U256::from(base_fee);
    let blob_price = U256::from(DATA_GAS_PER_BLOB) * U256::from(params.calc_blob_fee(excess));
    let next = if reserve > blob_price && params.max_blob_count > 0 {
        let spread = u128::from(params.max_blob_count.saturating_sub(params.target_blob_count));
        u128::from(excess) + u128::from(used) * spread / u128::from(params.max_blob_count)
    } else {
        total - target
    };
    u64::try_from(next).unwrap_or(u64::MAX)
}

fn check_blob_gas(
    header: &Header,
    parent: &Header,
    params: &BlobParams,
) -> Result<(), HeaderError> {
    let used = header.blob_gas_used.unwrap_or(0);
    if !used.is_multiple_of(DATA_GAS_PER_BLOB) {
        return Err(HeaderError::BlobGasUsedNotMultiple { got: used, per_blob: DATA_GAS_PER_BLOB });
    }
    let maximum = params.max_blob_gas_per_block();
    if used > maximum {
        return Err(HeaderError::BlobGasUsedTooHigh { got: used, maximum });
    }
    let expected = next_excess_blob_gas(parent, params);
    match header.excess_blob_gas {
        Some(got) if got != expected => Err(HeaderError::ExcessBlobGas { got, expected }),
        _ => Ok(()),
    }
}

mod body;
#[cfg(test)]
mod fixture_tests;
pub use body::validate_body;

#[cfg(test)]
mod tests;
