//! Block building: when blocks are mined ([`Mining`]), the dev clock, and building a block from
//! the pool (or from a given list, when a reorg re-mines) through the block engine, with the
//! EXECUTE budget per block.

use super::{Chain, ChainEvent, MinedBlock, MinedTx, Source, StoredBody, now, rlp};
use crate::devnet::DevnetError;
use crate::devnet::pool::best_queue;
use crate::execute_local::block::{BlockEnvInput, BlockOutcome, BlockRun, TxOutcome, settle};
use crate::execute_local::commit::BlockWrite;
use crate::execute_local::store::FlatDb;
use crate::execute_local::tries::{StateDiff, StateTries};
use crate::precompile::{ExecuteMeter, ExecutePrecompile};
use alloy_consensus::{
    BlockBody, EMPTY_OMMER_ROOT_HASH, Header, ReceiptEnvelope, Transaction, TxEnvelope,
    proofs::calculate_transaction_root, transaction::Recovered,
};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{B256, Bytes, keccak256};
use alloy_rlp::Encodable;
use alloy_trie::EMPTY_ROOT_HASH;
use revm::database::{State, states::bundle_state::BundleRetention};
use revm::primitives::hardfork::SpecId;
use std::sync::Arc;

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

    pub(super) fn clock(&self) -> u64 {
        now().saturating_add_signed(self.time_offset)
    }

    pub(super) fn build(
        &mut self,
        source: Source,
        extra_data: Bytes,
    ) -> Result<Arc<MinedBlock>, DevnetError> {
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
}

enum Offer {
    Included,
    Wait,
    Dropped,
}

/// Sets the header fields each fork adds.
pub(super) fn with_fork_fields(
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

pub(super) fn block_size(header: &Header, txs: &[TxEnvelope], spec: SpecId) -> u64 {
    let body = BlockBody {
        transactions: txs.to_vec(),
        ommers: Vec::new(),
        withdrawals: (spec >= SpecId::SHANGHAI).then(Default::default),
    };
    alloy_consensus::Block { header: header.clone(), body }.length() as u64
}

/// Per-transaction receipt details from the cumulative receipts.
pub(super) fn finish_txs(
    txs: Vec<(Recovered<TxEnvelope>, ReceiptEnvelope)>,
    base_fee: u64,
) -> Vec<MinedTx> {
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
