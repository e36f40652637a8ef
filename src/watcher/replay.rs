//! A proposal, from its event to its verdict: read the proposing transaction's calldata,
//! check it against the event, and replay the blocks on the L2 store until the first
//! checkpoint that differs, whose trace is recorded before the block is applied.

use super::{BatchRecord, BatchState, Finding, L1Source, Lie, Verdict, WatchError, Watcher};
use crate::execute_local::chain::ChainRules;
use crate::execute_local::execute::record_trace;
use crate::execute_local::l2::L2Block;
use crate::execute_local::replay::execute_on_store;
use crate::execute_local::store::{StateStore, StoreError};
use crate::protocol::{BlockInputs, Checkpoint};
use crate::rollup::{NativeRollup, from_sol};
use alloy_primitives::{Bytes, keccak256};
use alloy_rpc_types_eth::Log;
use alloy_sol_types::{SolCall, SolValue};
use std::time::Instant;

/// The batch's blocks and claimed checkpoints from the proposing calldata, checked against
/// the event; `Err` is why the batch cannot be replayed.
fn decode_proposal(
    input: &[u8],
    event: &NativeRollup::BatchProposed,
) -> Result<(Vec<BlockInputs>, Vec<Checkpoint>), String> {
    let call = NativeRollup::proposeCall::abi_decode(input)
        .map_err(|e| format!("the proposing transaction's calldata is not a propose call: {e}"))?;
    if call.parent != event.parent || call.blocks.len() as u64 != event.blockCount {
        return Err("the calldata's parent or block count differs from the event".into());
    }
    if keccak256(call.checkpoints.abi_encode()) != event.checkpointsHash {
        return Err("the calldata's checkpoints do not hash to the event's".into());
    }
    let claimed = call
        .checkpoints
        .iter()
        .map(|c| from_sol(c).ok_or_else(|| "a checkpoint's gas used exceeds u64".to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let blocks = call
        .blocks
        .iter()
        .map(|b| BlockInputs::decode(b).map_err(|e| format!("block inputs do not decode: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((blocks, claimed))
}

/// What replaying a batch gave.
struct Replayed {
    local: Vec<Checkpoint>,
    gas: u64,
    lie: Option<(usize, Bytes)>,
}

/// Replays `blocks` on the store's head, committing each block that matches its claim; at
/// the first that does not, records its trace and stops (the store stays before it).
fn replay_blocks(
    store: &StateStore,
    rules: &ChainRules,
    blocks: &[BlockInputs],
    claimed: &[Checkpoint],
) -> Result<Replayed, String> {
    let mut out = Replayed { local: Vec::new(), gas: 0, lie: None };
    for (index, inputs) in blocks.iter().enumerate() {
        let block = L2Block::new(inputs.clone()).map_err(|e| e.to_string())?;
        let pending = execute_on_store(store, rules, &block).map_err(|e| e.to_string())?;
        let mine = Checkpoint {
            input_commitment: block.input_commitment,
            post_state_root: pending.post_state_root,
            gas_used: pending.outcome.gas_used,
        };
        out.local.push(mine);
        out.gas += mine.gas_used;
        if claimed.get(index) != Some(&mine) {
            let (trace, _) = record_trace(store, rules, &[block]).map_err(|e| e.to_string())?;
            out.lie = Some((index, trace.encode().map_err(|e| e.to_string())?.into()));
            return Ok(out);
        }
        pending.commit(store).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

impl<S: L1Source> Watcher<S> {
    pub(super) async fn on_proposed(
        &mut self,
        log: &Log,
        event: &NativeRollup::BatchProposed,
        findings: &mut Vec<Finding>,
    ) -> Result<(), WatchError> {
        let missing =
            |what: &str| WatchError::Inconsistent(format!("BatchProposed log without {what}"));
        let tx_hash = log.transaction_hash.ok_or_else(|| missing("transaction hash"))?;
        let l1_block = log.block_number.ok_or_else(|| missing("block number"))?;
        let l1_block_hash = log.block_hash.ok_or_else(|| missing("block hash"))?;
        if let Some(seen) = self.db.batch(event.batchId)? {
            // Re-processing after a restart: a checked batch is not checked again, except a
            // wrong one, whose lie (and the trace proving it) is found again, in case the
            // restart came before the submitter recorded its challenge.
            let same = seen.tx_hash == tx_hash && seen.l1_block_hash == l1_block_hash;
            if same && !matches!(seen.verdict, Verdict::Invalid { .. }) {
                return Ok(());
            }
        }
        let l1_timestamp = match log.block_timestamp {
            Some(t) => t,
            None => self.source.block(l1_block).await?.map_or(0, |b| b.timestamp),
        };
        let input = self.source.tx_input(tx_hash).await?.ok_or_else(|| {
            WatchError::Inconsistent(format!(
                "the node does not know proposal transaction {tx_hash}"
            ))
        })?;
        let mut record = BatchRecord {
            id: event.batchId,
            parent: event.parent,
            proposer: event.proposer,
            l1_block,
            l1_block_hash,
            l1_timestamp,
            tx_hash,
            first_block: event.firstBlock,
            block_count: event.blockCount,
            claimed: Vec::new(),
            local: Vec::new(),
            l2_gas: 0,
            verdict: Verdict::Valid,
            state: BatchState::Pending,
        };
        metrics::counter!("native_challenger_watcher_batches_seen_total").increment(1);
        let lie = match decode_proposal(&input, event) {
            Err(reason) => {
                record.verdict = Verdict::Skipped { reason };
                None
            }
            Ok((blocks, claimed)) => {
                record.claimed = claimed;
                match self.parent_problem(event.parent)? {
                    Some(reason) => {
                        record.verdict = Verdict::Skipped { reason };
                        None
                    }
                    None => self.replay(&mut record, &blocks)?,
                }
            }
        };
        self.db.commit(std::slice::from_ref(&record), &[], None)?;
        tracing::info!(target: "native_challenger::watcher", batch = record.id, l1_block, blocks = record.block_count, verdict = ?record.verdict, "batch checked");
        findings.push(Finding::Checked(record));
        if let Some(lie) = lie {
            findings.push(Finding::Lie(lie));
        }
        Ok(())
    }

    /// Why a batch on `parent` cannot be replayed, if it cannot.
    fn parent_problem(&self, parent: u64) -> Result<Option<String>, WatchError> {
        if parent == 0 {
            return Ok(None);
        }
        Ok(match self.db.batch(parent)? {
            None => Some(format!("built on batch {parent}, which this challenger has not seen")),
            Some(p) if matches!(p.state, BatchState::Invalidated { .. }) => {
                Some(format!("built on batch {parent}, which was invalidated"))
            }
            Some(p) if p.verdict != Verdict::Valid => {
                Some(format!("built on batch {parent}, which is not valid ({:?})", p.verdict))
            }
            Some(_) => None,
        })
    }

    /// Replays the batch's blocks (off the async threads); fills the record's local
    /// checkpoints and verdict; returns the lie, if any.
    fn replay(
        &self,
        record: &mut BatchRecord,
        blocks: &[BlockInputs],
    ) -> Result<Option<Lie>, WatchError> {
        let head = self.store.head()?.ok_or(StoreError::Uninitialised)?;
        let before = record.first_block.saturating_sub(1);
        if head.number > before {
            self.store.rollback_to(before)?; // re-processing a batch a crash interrupted
        } else if head.number < before {
            return Err(WatchError::Inconsistent(format!(
                "batch {} starts at L2 block {} but the L2 state is at {}",
                record.id, record.first_block, head.number
            )));
        }
        let started = Instant::now();
        let replayed = tokio::task::block_in_place(|| {
            replay_blocks(&self.store, &self.rules, blocks, &record.claimed)
        })
        .map_err(|reason| WatchError::Replay { batch: record.id, reason })?;
        let seconds = started.elapsed().as_secs_f64();
        if seconds > 0.0 {
            metrics::gauge!("native_challenger_watcher_replay_mgas_per_second")
                .set(replayed.gas as f64 / 1e6 / seconds);
        }
        record.local = replayed.local;
        record.l2_gas = replayed.gas;
        let Some((index, trace)) = replayed.lie else {
            metrics::counter!("native_challenger_watcher_batches_verified_total").increment(1);
            return Ok(None);
        };
        record.verdict = Verdict::Invalid { index };
        metrics::counter!("native_challenger_watcher_batches_invalid_total").increment(1);
        tracing::warn!(target: "native_challenger::watcher", batch = record.id, block = record.first_block + index as u64, "wrong checkpoint found");
        Ok(Some(Lie {
            batch_id: record.id,
            index,
            claimed: record.claimed.clone(),
            local: record.local[index],
            trace,
            l1_block: record.l1_block,
            l1_timestamp: record.l1_timestamp,
        }))
    }
}
