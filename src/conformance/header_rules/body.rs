//! Body rules: what the block body must satisfy against its own header before execution.
//!
//! Input: a decoded `Block<TxEnvelope>` and the chain's [`ForkSchedule`].
//! Output: `Ok(())` or the first violated rule as a [`HeaderError`].
//! Invariants: no panics (blob gas sums saturate); the fork is the one active at the block's
//! timestamp.

use super::super::forks::{ForkSchedule, PostMergeFork};
use super::{HeaderError, MAX_RLP_BLOCK_SIZE};
use alloy_consensus::{Block, Transaction, TxEip4844Variant, TxEnvelope, proofs};
use alloy_eips::eip4844::DATA_GAS_PER_BLOB;
use alloy_eips::eip7840::BlobParams;

/// Body checks against the block's own header: transactions root, no ommers, withdrawals
/// presence and root, blob transactions allowed and their blob gas consistent with the header
/// and the per-transaction / per-block limits, and (Osaka) the EIP-7934 block size limit.
pub fn validate_body(
    block: &Block<TxEnvelope>,
    schedule: &ForkSchedule,
) -> Result<(), HeaderError> {
    let header = &block.header;
    let expected = proofs::calculate_transaction_root(&block.body.transactions);
    if header.transactions_root != expected {
        return Err(HeaderError::TransactionsRoot { got: header.transactions_root, expected });
    }
    if !block.body.ommers.is_empty() {
        return Err(HeaderError::OmmersPresent { count: block.body.ommers.len() });
    }
    let fork = schedule.fork_at(header.timestamp);
    check_withdrawals(block, fork)?;
    check_blob_transactions(block, schedule.blob_params_at(header.timestamp), fork)?;
    if fork >= PostMergeFork::Osaka {
        let size = alloy_rlp::Encodable::length(block);
        if size > MAX_RLP_BLOCK_SIZE {
            return Err(HeaderError::BlockTooLarge { got: size, maximum: MAX_RLP_BLOCK_SIZE });
        }
    }
    Ok(())
}

fn check_withdrawals(block: &Block<TxEnvelope>, fork: PostMergeFork) -> Result<(), HeaderError> {
    let expected_present = fork >= PostMergeFork::Shanghai;
    let withdrawals = block.body.withdrawals.as_ref();
    if withdrawals.is_some() != expected_present {
        let got = withdrawals.is_some();
        return Err(HeaderError::WithdrawalsPresence { got, expected: expected_present, fork });
    }
    let (Some(withdrawals), Some(got)) = (withdrawals, block.header.withdrawals_root) else {
        return Ok(());
    };
    let expected = proofs::calculate_withdrawals_root(withdrawals);
    if got != expected {
        return Err(HeaderError::WithdrawalsRoot { got, expected });
    }
    Ok(())
}

fn check_blob_transactions(
    block: &Block<TxEnvelope>,
    params: Option<BlobParams>,
    fork: PostMergeFork,
) -> Result<(), HeaderError> {
    let mut blob_gas: u64 = 0;
    for (index, tx) in block.body.transactions.iter().enumerate() {
        let count = tx_blob_count(index, tx, params.as_ref(), fork)?;
        blob_gas = blob_gas.saturating_add(count.saturating_mul(DATA_GAS_PER_BLOB));
    }
    let Some(params) = params else { return Ok(()) };
    let maximum = params.max_blob_gas_per_block();
    if blob_gas > maximum {
        return Err(HeaderError::BlobGasUsedTooHigh { got: blob_gas, maximum });
    }
    let got = block.header.blob_gas_used.unwrap_or(0);
    if got != blob_gas {
        return Err(HeaderError::BlobGasUsedMismatch { got, expected: blob_gas });
    }
    Ok(())
}

/// Blob count of one transaction (0 for non-blob types), checked against the fork's limits.
fn tx_blob_count(
    index: usize,
    tx: &TxEnvelope,
    params: Option<&BlobParams>,
    fork: PostMergeFork,
) -> Result<u64, HeaderError> {
    let variant = tx.as_eip4844().map(|signed| signed.tx());
    if matches!(variant, Some(TxEip4844Variant::TxEip4844WithSidecar(_))) {
        return Err(HeaderError::BlobSidecarInBlock { index });
    }
    let Some(count) = tx.blob_count() else {
        return Ok(0);
    };
    let Some(params) = params else {
        return Err(HeaderError::BlobTransactionBeforeCancun { index, fork });
    };
    if count > params.max_blobs_per_tx {
        let maximum = params.max_blobs_per_tx;
        return Err(HeaderError::TooManyBlobsInTransaction { index, got: count, maximum });
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::super::super::forks::{Network, network};
    use super::*;
    use alloy_consensus::{BlockBody, Header};
    use alloy_eips::eip4895::{Withdrawal, Withdrawals};
    use alloy_primitives::{Address, B256};

    fn schedule(name: &str) -> ForkSchedule {
        match network(name) {
            Network::Supported(s) => s,
            Network::Skipped { reason } => panic!("{reason}"),
        }
    }

    fn body_block(withdrawals: Option<Vec<Withdrawal>>) -> Block<TxEnvelope> {
        let withdrawals = withdrawals.map(Withdrawals::new);
        let header = Header {
            transactions_root: proofs::calculate_transaction_root::<TxEnvelope>(&[]),
            withdrawals_root: withdrawals.as_ref().map(|w| proofs::calculate_withdrawals_root(w)),
            blob_gas_used: Some(0),
            ..Header::default()
        };
        Block::new(header, BlockBody { transactions: vec![], ommers: vec![], withdrawals })
    }

    #[test]
    fn body_rules() {
        let cancun = schedule("Cancun");
        let w = Withdrawal {
            index: 1,
            validator_index: 2,
            address: Address::repeat_byte(3),
            amount: 4,
        };
        assert_eq!(validate_body(&body_block(Some(vec![w])), &cancun), Ok(()));
        let mut bad_root = body_block(Some(vec![w]));
        bad_root.header.withdrawals_root = Some(B256::ZERO);
        assert!(matches!(
            validate_body(&bad_root, &cancun),
            Err(HeaderError::WithdrawalsRoot { .. })
        ));
        let fork = PostMergeFork::Cancun;
        let missing = validate_body(&body_block(None), &cancun);
        assert_eq!(
            missing,
            Err(HeaderError::WithdrawalsPresence { got: false, expected: true, fork })
        );
        let mut tx_root = body_block(Some(vec![]));
        tx_root.header.transactions_root = B256::ZERO;
        assert!(matches!(
            validate_body(&tx_root, &cancun),
            Err(HeaderError::TransactionsRoot { .. })
        ));
        let mut ommers = body_block(Some(vec![]));
        ommers.body.ommers.push(Header::default());
        assert_eq!(validate_body(&ommers, &cancun), Err(HeaderError::OmmersPresent { count: 1 }));
        let mut blob_gas = body_block(Some(vec![]));
        blob_gas.header.blob_gas_used = Some(DATA_GAS_PER_BLOB);
        let err = validate_body(&blob_gas, &cancun);
        assert_eq!(
            err,
            Err(HeaderError::BlobGasUsedMismatch { got: DATA_GAS_PER_BLOB, expected: 0 })
        );
    }

    #[test]
    fn fork_dependent_body_rules() {
        let paris = schedule("Paris");
        let mut with_withdrawals = body_block(Some(vec![]));
        with_withdrawals.header.blob_gas_used = None;
        let fork = PostMergeFork::Paris;
        let err = validate_body(&with_withdrawals, &paris);
        assert_eq!(err, Err(HeaderError::WithdrawalsPresence { got: true, expected: false, fork }));
        let mut big = body_block(Some(vec![]));
        big.header.extra_data = vec![0u8; MAX_RLP_BLOCK_SIZE].into();
        assert_eq!(validate_body(&big, &schedule("Prague")), Ok(()));
        let err = validate_body(&big, &schedule("Osaka"));
        assert!(matches!(err, Err(HeaderError::BlockTooLarge { maximum: MAX_RLP_BLOCK_SIZE, .. })));
    }
}
