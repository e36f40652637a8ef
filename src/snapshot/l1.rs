//! What L1 says about a snapshot's batch, and the watcher records that start after it.
//!
//! Input: a provider, the rollup's address and a batch id. Output: the [`Anchor`] of a batch
//! FINALIZED at the confirmed L1 block (the contract's record of it), and, for a fresh
//! challenger database, the batch records and the cursor that make the watcher go on from
//! the L1 block before the batch's proposal: records of the batch, of the ancestors that may
//! still finalize after that block (at most `MAX_PENDING_BATCHES`), and of every batch up to
//! it proposed in the same L1 block, so none of their events is taken for an unknown batch.

use super::verify::Anchor;
use crate::config::L1Config;
use crate::protocol::Checkpoint;
use crate::rollup::{BatchStatus, NativeRollup, from_sol};
use crate::watcher::{BatchRecord, BatchState, Cursor, Verdict, WatchDb};
use alloy_eips::BlockId;
use alloy_primitives::{Address, B256};
use alloy_provider::{DynProvider, Provider};
use alloy_rpc_types_eth::{Filter, TransactionRequest};
use alloy_sol_types::{SolCall, SolEvent};
use std::collections::BTreeMap;

/// The L1 block the snapshot's checks read at: the node's finalized block with
/// `[l1] finalized`, else the head less the confirmations.
pub async fn confirmed_block(provider: &DynProvider, l1: &L1Config) -> Result<BlockId, String> {
    if l1.finalized {
        return Ok(BlockId::finalized());
    }
    let head =
        provider.get_block_number().await.map_err(|e| format!("reading the L1 head: {e}"))?;
    Ok(BlockId::number(head.saturating_sub(l1.confirmations)))
}

async fn view<C: SolCall>(
    provider: &DynProvider,
    rollup: Address,
    call: C,
    at: BlockId,
) -> Result<C::Return, String> {
    let request = TransactionRequest::default().to(rollup).input(call.abi_encode().into());
    let out = provider.call(request).block(at).await.map_err(|e| e.to_string())?;
    C::abi_decode_returns(&out).map_err(|e| format!("{rollup} is not a rollup contract: {e}"))
}

/// The contract's record of batch `id` at `at`.
pub async fn batch(
    provider: &DynProvider,
    rollup: Address,
    id: u64,
    at: BlockId,
) -> Result<NativeRollup::Batch, String> {
    view(provider, rollup, NativeRollup::batchCall { batchId: id }, at)
        .await
        .map_err(|e| format!("reading batch {id} from the rollup: {e}"))
}

/// The anchor of batch `id`, which must be finalized at `at`.
pub async fn anchor(
    provider: &DynProvider,
    rollup: Address,
    chain_id: u64,
    id: u64,
    at: BlockId,
) -> Result<(Anchor, NativeRollup::Batch), String> {
    if id == 0 {
        return Err("batch 0 is the genesis: start without a snapshot instead".into());
    }
    let b = batch(provider, rollup, id, at).await?;
    match BatchStatus::from_u8(b.status) {
        Some(BatchStatus::Finalized) => {}
        status => {
            return Err(format!(
                "batch {id} is not finalized on L1 at block {at} (status {status:?}): only a \
                 finalized batch can be exported or started from"
            ));
        }
    }
    let last_block = (b.firstBlock + b.blockCount)
        .checked_sub(1)
        .ok_or_else(|| format!("batch {id} has no blocks on L1"))?;
    let anchor = Anchor {
        chain_id,
        rollup,
        batch_id: id,
        last_block,
        last_block_hash: b.lastBlockHash,
        last_state_root: b.lastStateRoot,
    };
    Ok((anchor, b))
}

/// A record of a batch finalized before the snapshot (never replayed here).
fn finalized_record(id: u64, b: &NativeRollup::Batch, at_l1: u64) -> BatchRecord {
    BatchRecord {
        id,
        parent: b.parent,
        proposer: b.proposer,
        l1_block: b.proposedAt,
        l1_block_hash: B256::ZERO,
        l1_timestamp: 0,
        tx_hash: B256::ZERO,
        first_block: b.firstBlock,
        block_count: b.blockCount,
        claimed: Vec::new(),
        claimed_cuts: Vec::new(),
        local: Vec::new(),
        l2_gas: 0,
        verdict: Verdict::Valid,
        state: BatchState::Finalized { at_l1 },
    }
}

/// Writes the records and cursor that start the watcher after batch `id` into an empty
/// database (one atomic write); returns the cursor.
pub async fn seed_watcher(
    provider: &DynProvider,
    rollup: Address,
    db: &WatchDb,
    id: u64,
    at: BlockId,
) -> Result<Cursor, String> {
    let top = batch(provider, rollup, id, at).await?;
    let proposed = top.proposedAt;
    let before = proposed
        .checked_sub(1)
        .ok_or_else(|| format!("batch {id} is recorded as proposed in L1 block 0"))?;
    let max_pending = view(provider, rollup, NativeRollup::MAX_PENDING_BATCHESCall {}, at)
        .await
        .map_err(|e| format!("reading MAX_PENDING_BATCHES: {e}"))?;
    let mut records: BTreeMap<u64, BatchRecord> = BTreeMap::new();
    // The batch and the ancestors that may have been pending at `before`.
    let (mut current, mut b) = (id, top);
    for _ in 0..=max_pending {
        records.insert(current, finalized_record(current, &b, before));
        if b.parent == 0 || b.parent >= current {
            break;
        }
        current = b.parent;
        b = batch(provider, rollup, current, at).await?;
    }
    // Batches up to `id` proposed in the same L1 block: their proposals are read again.
    let filter =
        Filter::new().address(rollup).from_block(proposed).to_block(proposed).event_signature(
            vec![
                NativeRollup::BatchProposed::SIGNATURE_HASH,
                NativeRollup::BatchData::SIGNATURE_HASH,
            ],
        );
    let logs = provider
        .get_logs(&filter)
        .await
        .map_err(|e| format!("reading the logs of L1 block {proposed}: {e}"))?;
    let mut claimed: BTreeMap<(B256, u64), Vec<Checkpoint>> = BTreeMap::new();
    for log in &logs {
        if let Ok(data) = NativeRollup::BatchData::decode_log_data(log.data())
            && let Some(tx) = log.transaction_hash
        {
            let checkpoints = data.checkpoints.iter().map(from_sol).collect::<Option<Vec<_>>>();
            claimed.insert((tx, data.batchId), checkpoints.unwrap_or_default());
        }
    }
    let mut found = false;
    for log in &logs {
        let Ok(event) = NativeRollup::BatchProposed::decode_log_data(log.data()) else {
            continue;
        };
        if event.batchId > id {
            continue;
        }
        let (Some(tx_hash), Some(block_hash)) = (log.transaction_hash, log.block_hash) else {
            return Err(format!("a BatchProposed log of L1 block {proposed} without its block"));
        };
        let b = batch(provider, rollup, event.batchId, at).await?;
        let mut record = finalized_record(event.batchId, &b, before);
        if BatchStatus::from_u8(b.status) != Some(BatchStatus::Finalized) {
            record.verdict = Verdict::Skipped { reason: "before the snapshot's batch".into() };
            record.state = BatchState::Invalidated { at_l1: before };
        }
        record.l1_block_hash = block_hash;
        record.tx_hash = tx_hash;
        record.l1_timestamp = log.block_timestamp.unwrap_or_default();
        record.claimed = claimed.remove(&(tx_hash, event.batchId)).unwrap_or_default();
        found |= event.batchId == id;
        records.insert(event.batchId, record);
    }
    if !found {
        return Err(format!(
            "L1 block {proposed} holds no BatchProposed log of batch {id} (the endpoint's logs \
             are incomplete)"
        ));
    }
    let block = provider
        .get_block_by_number(before.into())
        .await
        .map_err(|e| format!("reading L1 block {before}: {e}"))?
        .ok_or_else(|| format!("L1 block {before} is missing"))?;
    let cursor = Cursor { number: before, hash: block.header.hash };
    let records: Vec<BatchRecord> = records.into_values().collect();
    db.commit(&records, &[(before, cursor.hash)], Some(cursor)).map_err(|e| e.to_string())?;
    Ok(cursor)
}
