//! The dev L1's mined blocks seen as JSON-RPC types: headers, blocks, transactions,
//! receipts and logs (with their positions), for the handlers in [`super::rpc`].

use super::chain::MinedBlock;
use alloy_consensus::{ReceiptEnvelope, Transaction as _};
use alloy_primitives::U256;
use alloy_rpc_types_eth::{
    Block, BlockTransactions, Filter, Header as RpcHeader, Log, Transaction as RpcTransaction,
    TransactionReceipt,
};
use serde_json::{Value, json};

pub(super) fn rpc_header(block: &MinedBlock) -> RpcHeader {
    RpcHeader {
        hash: block.hash,
        inner: block.header.clone(),
        total_difficulty: Some(U256::ZERO),
        size: Some(U256::from(block.size)),
    }
}

pub(super) fn rpc_tx(block: &MinedBlock, index: usize) -> Option<RpcTransaction> {
    let mined = block.txs.get(index)?;
    Some(RpcTransaction {
        inner: mined.tx.clone(),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(mined.effective_gas_price),
        block_timestamp: Some(block.header.timestamp),
    })
}

pub(super) fn rpc_block(block: &MinedBlock, full: bool) -> Block {
    let transactions = if full {
        BlockTransactions::Full((0..block.txs.len()).filter_map(|i| rpc_tx(block, i)).collect())
    } else {
        BlockTransactions::Hashes(block.txs.iter().map(|t| t.hash).collect())
    };
    Block {
        header: rpc_header(block),
        uncles: Vec::new(),
        transactions,
        withdrawals: block.header.withdrawals_root.map(|_| Default::default()),
    }
}

pub(super) fn rpc_log(
    block: &MinedBlock,
    tx_index: usize,
    log_index: u64,
    log: &alloy_primitives::Log,
    removed: bool,
) -> Log {
    Log {
        inner: log.clone(),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        block_timestamp: Some(block.header.timestamp),
        transaction_hash: block.txs.get(tx_index).map(|t| t.hash),
        transaction_index: Some(tx_index as u64),
        log_index: Some(log_index),
        removed,
    }
}

pub(super) fn rpc_receipt(block: &MinedBlock, index: usize) -> Option<TransactionReceipt> {
    let mined = block.txs.get(index)?;
    let mut next_log = mined.first_log_index;
    let inner = map_logs(&mined.receipt, |log| {
        let out = rpc_log(block, index, next_log, log, false);
        next_log += 1;
        out
    });
    Some(TransactionReceipt {
        inner,
        transaction_hash: mined.hash,
        transaction_index: Some(index as u64),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        gas_used: mined.gas_used,
        effective_gas_price: mined.effective_gas_price,
        blob_gas_used: None,
        blob_gas_price: None,
        from: mined.tx.signer(),
        to: mined.tx.to(),
        contract_address: mined.contract_address,
    })
}

pub(super) fn map_logs(
    receipt: &ReceiptEnvelope,
    mut f: impl FnMut(&alloy_primitives::Log) -> Log,
) -> ReceiptEnvelope<Log> {
    let tx_type = receipt.tx_type();
    let inner = receipt.as_receipt_with_bloom().map(|r| alloy_consensus::Receipt {
        status: r.receipt.status,
        cumulative_gas_used: r.receipt.cumulative_gas_used,
        logs: r.receipt.logs.iter().map(&mut f).collect(),
    });
    let with_bloom = match inner {
        Some(receipt) => {
            alloy_consensus::ReceiptWithBloom { logs_bloom: receipt.bloom_slow(), receipt }
        }
        None => Default::default(),
    };
    ReceiptEnvelope::from_typed(tx_type, with_bloom)
}

/// Matching logs of one block, for `eth_getLogs` and `logs` subscriptions.
pub(super) fn block_logs(block: &MinedBlock, filter: &Filter, removed: bool, out: &mut Vec<Log>) {
    if !filter.matches_bloom(block.header.logs_bloom) {
        return;
    }
    for (tx_index, mined) in block.txs.iter().enumerate() {
        for (offset, log) in mined.receipt.logs().iter().enumerate() {
            if filter.matches_address(log.address) && filter.matches_topics(log.topics()) {
                out.push(rpc_log(
                    block,
                    tx_index,
                    mined.first_log_index + offset as u64,
                    log,
                    removed,
                ));
            }
        }
    }
}

pub(super) fn logs_json(block: &MinedBlock, filter: &Filter, removed: bool) -> Vec<Value> {
    let mut logs = Vec::new();
    block_logs(block, filter, removed, &mut logs);
    logs.iter().map(|log| json!(log)).collect()
}
