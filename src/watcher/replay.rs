//! A proposal, from its events to its verdict: take the blocks and checkpoints from the
//! `BatchData` log the contract emitted with the `BatchProposed` event (so the batch is
//! readable whoever called `propose`: an EOA, an EIP-7702-delegated account, a contract),
//! check them against the event, and replay the blocks on the L2 store until the first
//! checkpoint that differs, whose trace is recorded before the block is applied.

use super::{
    BatchRecord, BatchState, Finding, Incomplete, Inconsistent, L1Source, Lie, ReplayFault,
    Verdict, WatchError, Watcher,
};
use crate::daemon::metrics_names as metric;
use crate::execute_local::chain::ChainRules;
use crate::execute_local::execute::record_trace;
use crate::execute_local::l2::{L2Block, stored_header};
use crate::execute_local::replay::execute_on_store;
use crate::execute_local::store::{StateStore, StoreError};
use crate::protocol::batch_tree::{batch_headers, headers_root};
use crate::protocol::{BlockInputs, Checkpoint, L2Header};
use crate::rollup::{NativeRollup, from_sol};
use alloy_primitives::{Address, Bytes};
use alloy_rpc_types_eth::Log;
use std::time::Instant;

/// A batch's blocks and claimed checkpoints, or why this challenger cannot decode them.
type Decoded = Result<(Vec<BlockInputs>, Vec<Checkpoint>), String>;

/// The batch's blocks and claimed checkpoints from its `BatchData` log, checked against the
/// `BatchProposed` event of the same transaction. `Err(Incomplete)` when the two logs disagree
/// (the contract emits both from the same arguments, so the endpoint's answer is wrong);
/// `Ok(Err(reason))` when the contract accepted blocks this challenger cannot decode.
fn decode_proposal(
    data: &NativeRollup::BatchData,
    event: &NativeRollup::BatchProposed,
) -> Result<Decoded, WatchError> {
    if data.blocks.len() as u64 != event.blockCount || data.checkpoints.len() != data.blocks.len() {
        return Err(Incomplete::BatchDataMismatch {
            batch: event.batchId,
            blocks: data.blocks.len(),
            checkpoints: data.checkpoints.len(),
            proposed: event.blockCount,
        }
        .into());
    }
    let claimed = data.checkpoints.iter().map(from_sol).collect::<Option<Vec<_>>>();
    let Some(claimed) = claimed else {
        return Ok(Err("a checkpoint's gas used exceeds u64".into()));
    };
    let blocks = data
        .blocks
        .iter()
        .map(|b| BlockInputs::decode(b).map_err(|e| format!("block inputs do not decode: {e}")))
        .collect::<Result<Vec<_>, _>>();
    Ok(blocks.map(|blocks| (blocks, claimed)))
}

/// The blocks of a recorded batch, read again from the `BatchData` log of its proposing
/// transaction (audits re-read them instead of storing every batch's bytes twice).
pub async fn read_batch_blocks<S: L1Source>(
    source: &S,
    rollup: Address,
    record: &BatchRecord,
) -> Result<Vec<BlockInputs>, String> {
    let logs =
        source.logs(rollup, record.l1_block, record.l1_block).await.map_err(|e| e.to_string())?;
    let data = super::batch_data(&logs).map_err(|e| e.to_string())?;
    let data = data.get(&(record.tx_hash, record.id)).ok_or_else(|| {
        format!("L1 block {} no longer holds batch {}'s data", record.l1_block, record.id)
    })?;
    data.blocks.iter().map(|b| BlockInputs::decode(b).map_err(|e| e.to_string())).collect()
}

/// The alarm for a batch this challenger cannot check: its lie, if it holds one, would go
/// unchallenged, so an operator must hear of it at once, not when its window closes.
fn undecodable(batch: u64, reason: &str) {
    tracing::error!(target: "native_challenger::watcher", batch, %reason, "ALARM: a proposed batch cannot be checked");
    metrics::counter!(metric::WATCHER_UNVERIFIABLE_BATCHES).increment(1);
}

/// What replaying a batch gave.
struct Replayed {
    local: Vec<Checkpoint>,
    gas: u64,
    lie: Option<(usize, Bytes)>,
}

/// Replays `blocks` on the store's head, committing each block that matches its claim; at
/// the first that does not, records its trace and stops (the store stays before it). An
/// error comes with the index of the block it stopped at.
fn replay_blocks(
    store: &StateStore,
    rules: &ChainRules,
    blocks: &[BlockInputs],
    claimed: &[Checkpoint],
) -> Result<Replayed, (usize, ReplayFault)> {
    let mut out = Replayed { local: Vec::new(), gas: 0, lie: None };
    for (index, inputs) in blocks.iter().enumerate() {
        let at = |fault| (index, fault);
        let block = L2Block::new(inputs.clone()).map_err(|e| at(ReplayFault::Block(e)))?;
        let pending =
            execute_on_store(store, rules, &block).map_err(|e| at(ReplayFault::Execute(e)))?;
        let mine = Checkpoint {
            input_commitment: block.input_commitment,
            post_state_root: pending.post_state_root,
            gas_used: pending.outcome.gas_used,
        };
        out.local.push(mine);
        out.gas += mine.gas_used;
        if claimed.get(index) != Some(&mine) {
            let (trace, _) =
                record_trace(store, rules, &[block]).map_err(|e| at(ReplayFault::Trace(e)))?;
            let encoded = trace.encode().map_err(|e| at(ReplayFault::Encode(e)))?;
            out.lie = Some((index, encoded.into()));
            return Ok(out);
        }
        pending.commit(store).map_err(|e| at(ReplayFault::Commit(e)))?;
    }
    Ok(out)
}

/// The claimed checkpoints, chained from the header before the batch, must give the root and
/// the last block hash `BatchProposed` reports: the contract computed both from the same
/// arguments it emitted in `BatchData`, so a difference is the endpoint's answer at fault.
fn check_root(
    base: &L2Header,
    claimed: &[Checkpoint],
    event: &NativeRollup::BatchProposed,
) -> Result<(), WatchError> {
    let headers = batch_headers(base, claimed);
    let last = headers.last().map(L2Header::block_hash);
    if headers_root(&headers) != event.checkpointsRoot || last != Some(event.lastBlockHash) {
        return Err(Incomplete::CheckpointsRoot { batch: event.batchId }.into());
    }
    Ok(())
}

impl<S: L1Source> Watcher<S> {
    pub(super) async fn on_proposed(
        &mut self,
        log: &Log,
        event: &NativeRollup::BatchProposed,
        data: Option<&NativeRollup::BatchData>,
        findings: &mut Vec<Finding>,
    ) -> Result<(), WatchError> {
        let missing = |field| Inconsistent::LogField { event: "BatchProposed", field };
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
        let data =
            data.ok_or(Incomplete::BatchDataMissing { batch: event.batchId, tx: tx_hash })?;
        let decoded = decode_proposal(data, event)?;
        let l1_timestamp = match log.block_timestamp {
            Some(t) => t,
            None => self.source.block(l1_block).await?.map_or(0, |b| b.timestamp),
        };
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
        metrics::counter!(metric::WATCHER_BATCHES_SEEN).increment(1);
        let lie = match decoded {
            Err(reason) => {
                undecodable(record.id, &reason);
                record.verdict = Verdict::Skipped { reason };
                None
            }
            Ok((blocks, claimed)) => {
                record.claimed = claimed;
                match self.parent_problem(event.parent)? {
                    Some((reason, alarm)) => {
                        if alarm {
                            undecodable(record.id, &reason);
                        }
                        record.verdict = Verdict::Skipped { reason };
                        None
                    }
                    None => self.replay(&mut record, &blocks, event)?,
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

    /// Why a batch on `parent` cannot be replayed, if it cannot, and whether that is an alarm:
    /// built on a lie (or on an invalidated batch) it falls with it; built on a batch this
    /// challenger never saw or could not check, its own lie would go unseen.
    pub(super) fn parent_problem(&self, parent: u64) -> Result<Option<(String, bool)>, WatchError> {
        if parent == 0 {
            return Ok(None);
        }
        Ok(match self.db.batch(parent)? {
            None => {
                Some((format!("built on batch {parent}, which this challenger has not seen"), true))
            }
            Some(p) if matches!(p.state, BatchState::Invalidated { .. }) => {
                Some((format!("built on batch {parent}, which was invalidated"), false))
            }
            Some(p) if p.verdict != Verdict::Valid => Some((
                format!("built on batch {parent}, which is not valid ({:?})", p.verdict),
                !self.falls_with_a_lie(parent)?,
            )),
            Some(_) => None,
        })
    }

    /// Whether batch `id` is built, through skipped batches, on a lie or an invalidated batch
    /// (then it falls with it and is no reason for an alarm); `false` when the chain of
    /// skipped batches starts at one that could not be checked.
    fn falls_with_a_lie(&self, mut id: u64) -> Result<bool, WatchError> {
        while let Some(record) = self.db.batch(id)? {
            if matches!(record.state, BatchState::Invalidated { .. }) {
                return Ok(true);
            }
            match record.verdict {
                Verdict::Invalid { .. } => return Ok(true),
                Verdict::Valid => return Ok(false),
                Verdict::Skipped { .. } if record.parent != 0 && record.parent < id => {
                    id = record.parent;
                }
                Verdict::Skipped { .. } => return Ok(false),
            }
        }
        Ok(false)
    }

    /// Replays the batch's blocks (off the async threads); fills the record's local
    /// checkpoints and verdict; returns the lie, if any.
    fn replay(
        &self,
        record: &mut BatchRecord,
        blocks: &[BlockInputs],
        event: &NativeRollup::BatchProposed,
    ) -> Result<Option<Lie>, WatchError> {
        let head = self.store.head()?.ok_or(StoreError::Uninitialised)?;
        let before = record.first_block.saturating_sub(1);
        if head.number > before {
            self.store.rollback_to(before)?; // re-processing a batch a crash interrupted
        } else if head.number < before {
            return Err(Inconsistent::L2Behind {
                batch: record.id,
                first_block: record.first_block,
                l2_head: head.number,
            }
            .into());
        }
        let base = stored_header(&self.store, before)?.ok_or(StoreError::Uninitialised)?;
        check_root(&base, &record.claimed, event)?;
        let started = Instant::now();
        let replayed = tokio::task::block_in_place(|| {
            replay_blocks(&self.store, &self.rules, blocks, &record.claimed)
        })
        .map_err(|(index, fault)| WatchError::Replay {
            batch: record.id,
            block: record.first_block + index as u64,
            fault,
        })?;
        let seconds = started.elapsed().as_secs_f64();
        if seconds > 0.0 {
            metrics::gauge!(metric::WATCHER_REPLAY_MGAS_PER_SECOND)
                .set(replayed.gas as f64 / 1e6 / seconds);
        }
        record.local = replayed.local;
        record.l2_gas = replayed.gas;
        let Some((index, trace)) = replayed.lie else {
            metrics::counter!(metric::WATCHER_BATCHES_VERIFIED).increment(1);
            return Ok(None);
        };
        record.verdict = Verdict::Invalid { index };
        metrics::counter!(metric::WATCHER_BATCHES_INVALID).increment(1);
        tracing::warn!(target: "native_challenger::watcher", batch = record.id, block = record.first_block + index as u64, "wrong checkpoint found");
        Ok(Some(Lie {
            batch_id: record.id,
            index,
            claimed: record.claimed.clone(),
            local: record.local[index],
            base,
            trace,
            l1_block: record.l1_block,
            l1_timestamp: record.l1_timestamp,
        }))
    }
}
