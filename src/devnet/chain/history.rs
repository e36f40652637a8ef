//! History: truncating the chain, snapshots and reverts (`evm_snapshot`/`evm_revert`), and
//! reorgs (`devnet_reorg`), all on the store's atomic rollback.

use super::{Chain, ChainEvent, MinedBlock, ReorgReport, Snapshot, Source};
use crate::devnet::DevnetError;
use alloy_consensus::{TxEnvelope, transaction::Recovered};
use alloy_primitives::{B256, Bytes};
use std::collections::HashSet;
use std::sync::Arc;

impl Chain {
    /// Drops blocks after `number`; their transactions go back to the pool when `repool`.
    pub(super) fn truncate(
        &mut self,
        number: u64,
        repool: bool,
    ) -> Result<Vec<Arc<MinedBlock>>, DevnetError> {
        if number >= self.head().number() {
            return Ok(Vec::new());
        }
        self.store.rollback_to(number)?;
        let keep = usize::try_from(number + 1).unwrap_or(usize::MAX);
        let removed: Vec<Arc<MinedBlock>> = self.blocks.split_off(keep);
        for block in removed.iter().rev() {
            self.by_hash.remove(&block.hash);
            for tx in &block.txs {
                self.tx_index.remove(&tx.hash);
                if repool {
                    self.pool.insert(tx.hash, tx.tx.clone());
                }
            }
            let _ = self.events.send(ChainEvent::Removed(block.clone()));
        }
        Ok(removed)
    }

    /// Records the current chain and pool; `revert` returns to it.
    pub fn snapshot(&mut self) -> u64 {
        let id = self.next_snapshot;
        self.next_snapshot += 1;
        self.snapshots.insert(
            id,
            Snapshot {
                head: self.head().number(),
                pool: self.pool.clone(),
                time_offset: self.time_offset,
            },
        );
        id
    }

    /// Returns to snapshot `id` (which, with every later snapshot, is used up). False when no
    /// such snapshot exists.
    pub fn revert(&mut self, id: u64) -> Result<bool, DevnetError> {
        let Some(snapshot) = self.snapshots.get(&id).cloned() else { return Ok(false) };
        self.truncate(snapshot.head, false)?;
        self.pool = snapshot.pool;
        self.time_offset = snapshot.time_offset;
        self.next_timestamp = None;
        self.snapshots.retain(|k, _| *k < id);
        Ok(true)
    }

    /// Replaces the last `depth` blocks with as many new ones holding the same transactions,
    /// except those in `drop`; transactions in `delay` move to the last new block. A
    /// transaction that becomes invalid (e.g. its sender's earlier nonce was dropped) is left
    /// out too. Subscribers see the old blocks removed, then the new ones.
    pub fn reorg(
        &mut self,
        depth: u64,
        drop: &[B256],
        delay: &[B256],
    ) -> Result<ReorgReport, DevnetError> {
        let head = self.head().number();
        if depth == 0 || depth > head {
            return Err(DevnetError::Request(format!(
                "reorg depth {depth} must be between 1 and the head number {head}"
            )));
        }
        let drop: HashSet<B256> = drop.iter().copied().collect();
        let delay: HashSet<B256> = delay.iter().copied().collect();
        let old: Vec<Arc<MinedBlock>> = self.blocks[self.blocks.len() - depth as usize..].to_vec();
        let timestamps: Vec<u64> = old.iter().map(|b| b.header.timestamp).collect();
        let mut plan: Vec<Vec<Recovered<TxEnvelope>>> = old
            .iter()
            .map(|b| {
                b.txs
                    .iter()
                    .filter(|t| !drop.contains(&t.hash) && !delay.contains(&t.hash))
                    .map(|t| t.tx.clone())
                    .collect()
            })
            .collect();
        let delayed: Vec<Recovered<TxEnvelope>> = old
            .iter()
            .flat_map(|b| b.txs.iter())
            .filter(|t| delay.contains(&t.hash) && !drop.contains(&t.hash))
            .map(|t| t.tx.clone())
            .collect();
        if let Some(last) = plan.last_mut() {
            last.extend(delayed);
        }
        let removed = self.truncate(head - depth, false)?;
        self.reorgs += 1;
        let mut added = Vec::new();
        for (txs, timestamp) in plan.into_iter().zip(timestamps) {
            self.next_timestamp = Some(timestamp.max(self.head().header.timestamp + 1));
            let tag = Bytes::from(format!("devnet reorg {}", self.reorgs).into_bytes());
            added.push(self.build(Source::Listed(txs), tag)?);
        }
        let kept: HashSet<B256> = added.iter().flat_map(|b| b.txs.iter().map(|t| t.hash)).collect();
        let dropped_txs = removed
            .iter()
            .flat_map(|b| b.txs.iter().map(|t| t.hash))
            .filter(|h| !kept.contains(h))
            .collect();
        Ok(ReorgReport {
            depth,
            removed: removed.iter().map(|b| b.hash).collect(),
            added: added.iter().map(|b| b.hash).collect(),
            dropped_txs,
        })
    }
}
