//! The dev L1's transaction pool: admitted transactions waiting for a block, per sender and
//! nonce.
//!
//! Input: transactions that passed admission ([`super::chain::Chain::submit`]). Output: for
//! each block, the candidates in inclusion order: per sender, consecutive nonces from the
//! sender's state nonce; across senders, highest effective tip first, then arrival order.
//! A transaction whose fee cap is below the block's base fee waits (with its sender's later
//! nonces) for a cheaper block.

use alloy_consensus::{Transaction, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// One pooled transaction.
#[derive(Debug, Clone)]
pub struct Pooled {
    pub hash: B256,
    pub tx: Recovered<TxEnvelope>,
    /// Admission order, for tie-breaks.
    pub arrival: u64,
}

/// Pending transactions, by sender then nonce.
#[derive(Debug, Clone, Default)]
pub struct Pool {
    by_sender: BTreeMap<Address, BTreeMap<u64, Pooled>>,
    hashes: HashMap<B256, (Address, u64)>,
    arrivals: u64,
}

impl Pool {
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    pub fn contains(&self, hash: &B256) -> bool {
        self.hashes.contains_key(hash)
    }

    pub fn get(&self, hash: &B256) -> Option<&Pooled> {
        let (sender, nonce) = self.hashes.get(hash)?;
        self.by_sender.get(sender)?.get(nonce)
    }

    /// The transaction `sender` has pooled at `nonce`.
    pub fn at(&self, sender: &Address, nonce: u64) -> Option<&Pooled> {
        self.by_sender.get(sender)?.get(&nonce)
    }

    /// The sender's next nonce counting pooled transactions that follow `state_nonce`
    /// without a gap (what `eth_getTransactionCount(.., "pending")` answers).
    pub fn pending_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        let mut next = state_nonce;
        if let Some(txs) = self.by_sender.get(sender) {
            while txs.contains_key(&next) {
                next += 1;
            }
        }
        next
    }

    /// Adds `tx`, replacing whatever the sender had at that nonce (the caller checked the
    /// replacement rule). Returns the replaced transaction's hash.
    pub fn insert(&mut self, hash: B256, tx: Recovered<TxEnvelope>) -> Option<B256> {
        let sender = tx.signer();
        let nonce = tx.nonce();
        self.arrivals += 1;
        let pooled = Pooled { hash, tx, arrival: self.arrivals };
        let replaced = self.by_sender.entry(sender).or_default().insert(nonce, pooled);
        let replaced = replaced.map(|old| {
            self.hashes.remove(&old.hash);
            old.hash
        });
        self.hashes.insert(hash, (sender, nonce));
        replaced
    }

    /// Removes one transaction.
    pub fn remove(&mut self, hash: &B256) -> Option<Pooled> {
        let (sender, nonce) = self.hashes.remove(hash)?;
        let txs = self.by_sender.get_mut(&sender)?;
        let removed = txs.remove(&nonce);
        if txs.is_empty() {
            self.by_sender.remove(&sender);
        }
        removed
    }

    /// Drops every transaction of `sender` below `state_nonce` (mined or made stale).
    pub fn prune(&mut self, sender: &Address, state_nonce: u64) {
        let Some(txs) = self.by_sender.get_mut(sender) else { return };
        let stale: Vec<u64> = txs.range(..state_nonce).map(|(nonce, _)| *nonce).collect();
        for nonce in stale {
            if let Some(old) = txs.remove(&nonce) {
                self.hashes.remove(&old.hash);
            }
        }
        if txs.is_empty() {
            self.by_sender.remove(sender);
        }
    }

    pub fn senders(&self) -> Vec<Address> {
        self.by_sender.keys().copied().collect()
    }

    /// Every pooled transaction, sender by sender in nonce order.
    pub fn all(&self) -> impl Iterator<Item = &Pooled> {
        self.by_sender.values().flat_map(|txs| txs.values())
    }

    /// Per sender, the run of consecutive nonces starting at the sender's state nonce whose
    /// fee cap covers `base_fee`. `state_nonce` reads the state.
    pub fn ready(
        &self,
        base_fee: u64,
        mut state_nonce: impl FnMut(&Address) -> u64,
    ) -> Vec<VecDeque<Pooled>> {
        let mut queues = Vec::new();
        for (sender, txs) in &self.by_sender {
            let mut next = state_nonce(sender);
            let mut queue = VecDeque::new();
            while let Some(pooled) = txs.get(&next) {
                if pooled.tx.max_fee_per_gas() < u128::from(base_fee) {
                    break;
                }
                queue.push_back(pooled.clone());
                next += 1;
            }
            if !queue.is_empty() {
                queues.push(queue);
            }
        }
        queues
    }
}

/// Picks the queue whose head pays the highest tip at `base_fee` (earliest arrival on ties).
pub fn best_queue(queues: &[VecDeque<Pooled>], base_fee: u64) -> Option<usize> {
    queues
        .iter()
        .enumerate()
        .filter_map(|(index, queue)| queue.front().map(|head| (index, head)))
        .max_by(|(_, a), (_, b)| {
            let tip_a = a.tx.effective_tip_per_gas(base_fee).unwrap_or(0);
            let tip_b = b.tx.effective_tip_per_gas(base_fee).unwrap_or(0);
            tip_a.cmp(&tip_b).then(b.arrival.cmp(&a.arrival))
        })
        .map(|(index, _)| index)
}
