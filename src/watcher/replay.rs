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
use crate::execute_local::execute::record_segment_trace;
use crate::execute_local::l2::{L2Block, stored_header};
use crate::execute_local::replay::execute_on_store;
use crate::execute_local::store::{StateStore, StoreError};
use crate::protocol::batch_tree::{batch_headers, batch_leaves, leaves_root};
use crate::protocol::{BlockInputs, Checkpoint, Cut, L2Header, ProtocolError};
use crate::rollup::{NativeRollup, from_sol, from_sol_cuts};
use alloy_primitives::{Address, Bytes};
use alloy_rpc_types_eth::Log;
use std::time::Instant;

/// A batch's blocks, claimed checkpoints and claimed cuts, or why this challenger cannot
/// decode them.
type Decoded = Result<(Vec<BlockInputs>, Vec<Checkpoint>, Vec<Vec<Cut>>), String>;

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
    // The contract refuses cuts out of order, out of the batch or wider than the protocol's
    // fields: a log holding such is not the contract's.
    let cuts = from_sol_cuts(&data.cuts, data.blocks.len())
        .ok_or(Incomplete::CheckpointsRoot { batch: event.batchId })?;
    let blocks = data
        .blocks
        .iter()
        .map(|b| BlockInputs::decode(b).map_err(|e| format!("block inputs do not decode: {e}")))
        .collect::<Result<Vec<_>, _>>();
    Ok(blocks.map(|blocks| (blocks, claimed, cuts)))
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
    lie: Option<Found>,
}

/// The first wrong leaf: its block, the segment it ends, the segment's true end and trace.
struct Found {
    index: usize,
    segment: u16,
    local: Checkpoint,
    trace: Bytes,
}

/// One leaf of a block as a claim: a cut (the state after a segment that does not end the
/// block) or the block's checkpoint.
#[derive(Debug, PartialEq, Eq)]
enum Claim<'a> {
    Cut(&'a Cut),
    Block(&'a Checkpoint),
}

/// The block's leaves in order: its cuts, then its checkpoint.
fn claims<'a>(cuts: &'a [Cut], checkpoint: &'a Checkpoint) -> impl Iterator<Item = Claim<'a>> {
    cuts.iter().map(Claim::Cut).chain(std::iter::once(Claim::Block(checkpoint)))
}

/// The first leaf of a block where the claim is not the local one (the segment it ends), if
/// any. Leaves are compared in order, so a claim with more or fewer cuts than the block has
/// differs at the first leaf where one of them ends the block and the other does not.
fn first_divergent(
    claimed_cuts: &[Cut],
    claimed: Option<&Checkpoint>,
    local_cuts: &[Cut],
    local: &Checkpoint,
) -> Option<usize> {
    let Some(claimed) = claimed else { return Some(0) };
    let mut mine = claims(local_cuts, local);
    claims(claimed_cuts, claimed).position(|claim| mine.next().as_ref() != Some(&claim))
}

/// Replays `blocks` on the store's head, committing each block whose leaves all match their
/// claims; at the first that does not, records the trace of the first wrong leaf's segment
/// and stops (the store stays before the block). An error comes with the index of the block
/// it stopped at.
fn replay_blocks(
    store: &StateStore,
    rules: &ChainRules,
    blocks: &[BlockInputs],
    claimed: &[Checkpoint],
    claimed_cuts: &[Vec<Cut>],
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
        let cuts = claimed_cuts.get(index).map(Vec::as_slice).unwrap_or_default();
        if let Some(k) = first_divergent(cuts, claimed.get(index), &pending.cuts, &mine) {
            let segment = u16::try_from(k).map_err(|_| {
                at(ReplayFault::Encode(ProtocolError::TooLarge {
                    what: "segment",
                    found: k,
                    max: usize::from(u16::MAX),
                }))
            })?;
            let (trace, recorded) = record_segment_trace(store, rules, &block, segment)
                .map_err(|e| at(ReplayFault::Trace(e)))?;
            let encoded = trace.encode().map_err(|e| at(ReplayFault::Encode(e)))?;
            let local = Checkpoint {
                input_commitment: block.input_commitment,
                post_state_root: recorded.step.post_state_root,
                gas_used: recorded.step.end.gas_used,
            };
            out.lie = Some(Found { index, segment, local, trace: encoded.into() });
            return Ok(out);
        }
        pending.commit(store).map_err(|e| at(ReplayFault::Commit(e)))?;
    }
    Ok(out)
}

/// The claimed checkpoints and cuts, chained from the header before the batch, must give the
/// root, the leaf count and the last block hash `BatchProposed` reports: the contract
/// computed them from the same arguments it emitted in `BatchData`, so a difference is the
/// endpoint's answer at fault.
fn check_root(
    base: &L2Header,
    claimed: &[Checkpoint],
    cuts: &[Vec<Cut>],
    event: &NativeRollup::BatchProposed,
) -> Result<(), WatchError> {
    let headers = batch_headers(base, claimed);
    let last = headers.last().map(L2Header::block_hash);
    let leaves = batch_leaves(&headers, cuts);
    if leaves_root(&leaves) != event.checkpointsRoot
        || leaves.len() as u64 != event.leafCount
        || last != Some(event.lastBlockHash)
    {
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
            claimed_cuts: Vec::new(),
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
            Ok((blocks, claimed, cuts)) => {
                record.claimed = claimed;
                record.claimed_cuts = cuts;
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
        check_root(&base, &record.claimed, &record.claimed_cuts, event)?;
        let started = Instant::now();
        let replayed = tokio::task::block_in_place(|| {
            replay_blocks(&self.store, &self.rules, blocks, &record.claimed, &record.claimed_cuts)
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
        let Some(Found { index, segment, local, trace }) = replayed.lie else {
            metrics::counter!(metric::WATCHER_BATCHES_VERIFIED).increment(1);
            return Ok(None);
        };
        record.verdict = Verdict::Invalid { index };
        metrics::counter!(metric::WATCHER_BATCHES_INVALID).increment(1);
        tracing::warn!(target: "native_challenger::watcher", batch = record.id, block = record.first_block + index as u64, segment, "wrong checkpoint found");
        Ok(Some(Lie {
            batch_id: record.id,
            index,
            segment,
            claimed: record.claimed.clone(),
            claimed_cuts: record.claimed_cuts.clone(),
            local,
            base,
            trace,
            l1_block: record.l1_block,
            l1_timestamp: record.l1_timestamp,
        }))
    }
}
