//! An in-memory L1 for the submitter's tests: a chain with blocks, a pool, receipts, reverts,
//! dropped broadcasts and base-fee moves, and a small model of the rollup contract's commit,
//! reveal and challenge rules. It implements both seams ([`TxSender`], [`RollupReads`]).
//!
//! Input: the calls the flow makes, and the test's knobs (mine, hold receipts, drop, refuse,
//! revert, move the base fee, reorg a conviction). Output: the effects the flow asks for and
//! a log of what was broadcast and mined, for the tests to assert on.

use super::seams::{BatchView, Mined, RollupReads, TxSender};
use super::txmgr::{SentTx, TxError};
use crate::rollup::{BatchStatus, NativeRollup, NativeRollupErrors, RollupError};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{SolCall, SolValue};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// One proposal in the contract model.
#[derive(Debug, Clone)]
pub struct FakeBatch {
    pub status: BatchStatus,
    pub checkpoints_root: B256,
    /// Leaves of the batch's tree (its blocks and their cuts).
    pub leaf_count: usize,
    pub proposed_at: u64,
}

/// What a mined transaction did.
#[derive(Debug, Clone)]
pub struct MinedTx {
    pub hash: B256,
    pub nonce: u64,
    pub data: Bytes,
    pub max_fee: u128,
    pub block: u64,
    pub ok: bool,
}

#[derive(Debug)]
pub struct Chain {
    pub me: Address,
    pub head: u64,
    pub base_fee: u128,
    pub confirmations: u64,
    // The contract.
    pub batches: Vec<FakeBatch>,
    pub window: u64,
    pub commitments: HashMap<B256, u64>,
    pub bond: U256,
    pub unit: U256,
    pub reward: U256,
    pub credits: U256,
    // The chain.
    pub mined_nonce: u64,
    pub next_nonce: u64,
    pub pool: Vec<SentTx>,
    pub mined: Vec<MinedTx>,
    /// Receipts of transactions whose data starts with one of these are not answered.
    pub held: Vec<Bytes>,
    /// Broadcasts that are accepted and lost (a dropped transaction).
    pub drop_broadcasts: usize,
    /// The next simulation of a call with this selector is refused with this error.
    pub refuse: Vec<([u8; 4], NativeRollupErrors)>,
    /// The next mined call with this selector fails (refused in the block, not in simulation).
    pub revert_mined: Vec<[u8; 4]>,
    /// Every broadcast, in order.
    pub broadcasts: Vec<Bytes>,
    pub bumps: usize,
}

/// The fake L1. See the module documentation.
#[derive(Debug)]
pub struct FakeL1 {
    pub chain: Mutex<Chain>,
}

fn contract(err: NativeRollupErrors) -> TxError {
    TxError::Rollup(RollupError::Contract(err))
}

fn selector(data: &[u8]) -> [u8; 4] {
    let mut s = [0u8; 4];
    if data.len() >= 4 {
        s.copy_from_slice(&data[..4]);
    }
    s
}

impl FakeL1 {
    /// A chain at block 10 with batch 1 pending (proposed at block 10), two blocks under
    /// `checkpoints_root`.
    pub fn new(me: Address, checkpoints_root: B256, window: u64) -> Self {
        let ether = U256::from(10).pow(U256::from(18));
        Self {
            chain: Mutex::new(Chain {
                me,
                head: 10,
                base_fee: 1_000_000_000,
                confirmations: 1,
                batches: vec![FakeBatch {
                    status: BatchStatus::Pending,
                    checkpoints_root,
                    leaf_count: 2,
                    proposed_at: 10,
                }],
                window,
                commitments: HashMap::new(),
                bond: U256::ZERO,
                unit: ether,
                reward: ether,
                credits: U256::ZERO,
                mined_nonce: 0,
                next_nonce: 0,
                pool: Vec::new(),
                mined: Vec::new(),
                held: Vec::new(),
                drop_broadcasts: 0,
                refuse: Vec::new(),
                revert_mined: Vec::new(),
                broadcasts: Vec::new(),
                bumps: 0,
            }),
        }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Chain) -> T) -> T {
        let mut chain = self.chain.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut chain)
    }

    /// Mines one block.
    pub fn mine(&self) {
        self.with(Chain::mine);
    }

    /// Calls with `selector` that were mined, successful or not.
    pub fn mined_calls(&self, selector: [u8; 4]) -> Vec<MinedTx> {
        self.with(|c| {
            c.mined.iter().filter(|m| m.data.starts_with(&selector)).cloned().collect::<Vec<_>>()
        })
    }

    /// Broadcasts of calls with `selector`.
    pub fn broadcasts_of(&self, selector: [u8; 4]) -> usize {
        self.with(|c| c.broadcasts.iter().filter(|d| d.starts_with(&selector)).count())
    }
}

impl Chain {
    /// Runs `data` in block `block` against the contract model.
    fn execute(&mut self, data: &Bytes, value: U256, block: u64) -> Result<(), NativeRollupErrors> {
        let s = selector(data);
        if s == NativeRollup::depositChallengerBondCall::SELECTOR {
            self.bond += value;
            return Ok(());
        }
        if let Ok(call) = NativeRollup::commitChallengeCall::abi_decode(data) {
            let open = U256::from(self.commitments.len());
            let required = (open + U256::from(1)) * self.unit;
            if self.bond < required {
                return Err(NativeRollupErrors::InsufficientChallengerBond(
                    NativeRollup::InsufficientChallengerBond { bond: self.bond, required },
                ));
            }
            if self.commitments.contains_key(&call.commitment) {
                return Err(NativeRollupErrors::CommitmentExists(NativeRollup::CommitmentExists {
                    commitment: call.commitment,
                }));
            }
            self.commitments.insert(call.commitment, block);
            return Ok(());
        }
        if let Ok(call) = NativeRollup::cancelCommitmentCall::abi_decode(data) {
            if self.commitments.remove(&call.commitment).is_none() {
                return Err(NativeRollupErrors::UnknownCommitment(
                    NativeRollup::UnknownCommitment { commitment: call.commitment },
                ));
            }
            return Ok(());
        }
        if s == NativeRollup::withdrawCall::SELECTOR {
            if self.credits.is_zero() {
                return Err(NativeRollupErrors::NothingToWithdraw(
                    NativeRollup::NothingToWithdraw {},
                ));
            }
            self.credits = U256::ZERO;
            return Ok(());
        }
        if let Ok(call) = NativeRollup::challengeCall::abi_decode(data) {
            return self.challenge(call, block);
        }
        Err(NativeRollupErrors::MalformedTrace(NativeRollup::MalformedTrace {}))
    }

    fn challenge(
        &mut self,
        call: NativeRollup::challengeCall,
        block: u64,
    ) -> Result<(), NativeRollupErrors> {
        let id = call.batchId;
        let index = usize::try_from(id).unwrap_or(usize::MAX);
        let Some(batch) = index.checked_sub(1).and_then(|i| self.batches.get(i)).cloned() else {
            return Err(NativeRollupErrors::UnknownBatch(NativeRollup::UnknownBatch {
                batchId: id,
            }));
        };
        if batch.status != BatchStatus::Pending {
            return Err(NativeRollupErrors::BatchNotPending(NativeRollup::BatchNotPending {
                batchId: id,
                status: batch.status as u8,
            }));
        }
        let closes = batch.proposed_at + self.window;
        if block > closes {
            return Err(NativeRollupErrors::ChallengeWindowClosed(
                NativeRollup::ChallengeWindowClosed {
                    batchId: id,
                    closedAfter: U256::from(closes),
                },
            ));
        }
        let leaf = |l: &NativeRollup::Leaf| crate::rollup::from_sol_leaf(l).unwrap_or_default();
        let proof = crate::protocol::CheckpointProof {
            index: usize::try_from(call.leafIndex).unwrap_or(usize::MAX),
            prev: leaf(&call.prev),
            prev_path: call.prevProof.clone(),
            claimed: leaf(&call.claimed),
            path: call.proof.clone(),
        };
        let args = crate::rollup::ChallengeArgs {
            batch_id: id,
            proof: proof.clone(),
            post_state_root: call.postStateRoot,
            gas_used: u64::try_from(call.gasUsed).unwrap_or(u64::MAX),
            trace: call.trace.clone(),
            salt: call.salt,
        };
        let commitment = args.commitment(self.me);
        let Some(&at) = self.commitments.get(&commitment) else {
            return Err(NativeRollupErrors::UnknownCommitment(NativeRollup::UnknownCommitment {
                commitment,
            }));
        };
        if at >= block {
            return Err(NativeRollupErrors::CommitmentTooRecent(
                NativeRollup::CommitmentTooRecent { commitment, committedAt: U256::from(at) },
            ));
        }
        if proof.verify(batch.checkpoints_root, batch.leaf_count).is_none() {
            return Err(NativeRollupErrors::CheckpointNotInBatch(
                NativeRollup::CheckpointNotInBatch { batchId: id, index: call.leafIndex },
            ));
        }
        self.commitments.remove(&commitment);
        self.batches[index - 1].status = BatchStatus::Invalidated;
        self.credits += self.reward;
        Ok(())
    }

    /// One block: the pooled transactions in nonce order whose max fee covers the base fee.
    fn mine(&mut self) {
        self.head += 1;
        let block = self.head;
        while let Some(at) = self.pool.iter().position(|t| t.nonce == self.mined_nonce) {
            if self.pool[at].max_fee < self.base_fee {
                break;
            }
            let tx = self.pool.remove(at);
            let s = selector(&tx.data);
            let forced = self.revert_mined.iter().position(|r| *r == s);
            let ok = match forced {
                Some(i) => {
                    self.revert_mined.remove(i);
                    false
                }
                None => self.execute(&tx.data, tx.value, block).is_ok(),
            };
            self.mined.push(MinedTx {
                hash: tx.hashes.last().copied().unwrap_or_default(),
                nonce: tx.nonce,
                data: tx.data.clone(),
                max_fee: tx.max_fee,
                block,
                ok,
            });
            self.mined_nonce += 1;
        }
    }

    fn sign(tx: &mut SentTx) {
        let hash = keccak256((tx.nonce, tx.data.clone(), U256::from(tx.max_fee)).abi_encode());
        tx.hashes.push(hash);
        tx.raw = tx.data.clone();
    }

    fn receipt(&self, tx: &SentTx) -> Option<MinedTx> {
        self.mined.iter().find(|m| tx.hashes.contains(&m.hash)).cloned()
    }

    fn held(&self, tx: &SentTx) -> bool {
        self.held.iter().any(|h| tx.data.starts_with(h))
    }

    fn broadcast(&mut self, tx: &SentTx) {
        self.broadcasts.push(tx.data.clone());
        if self.drop_broadcasts > 0 {
            self.drop_broadcasts -= 1;
            return;
        }
        self.pool.retain(|t| t.nonce != tx.nonce);
        if tx.nonce >= self.mined_nonce {
            self.pool.push(tx.clone());
        }
    }
}

/// What one poll of a confirmation found.
enum Poll {
    Done(Result<Mined, TxError>),
    Wait,
    Mine,
}

impl TxSender for FakeL1 {
    fn address(&self) -> Address {
        self.with(|c| c.me)
    }

    fn confirmations(&self) -> u64 {
        self.with(|c| c.confirmations)
    }

    fn head(&self) -> BoxFuture<'_, Result<u64, TxError>> {
        Box::pin(async move { Ok(self.with(|c| c.head)) })
    }

    fn gas_price(&self) -> BoxFuture<'_, Result<u128, TxError>> {
        Box::pin(async move { Ok(self.with(|c| c.base_fee)) })
    }

    fn block_timestamp(&self, number: u64) -> BoxFuture<'_, Result<Option<u64>, TxError>> {
        Box::pin(async move { Ok(Some(number * 12)) })
    }

    fn unmined(&self) -> BoxFuture<'_, Result<u64, TxError>> {
        Box::pin(async move { Ok(self.with(|c| c.pool.len() as u64)) })
    }

    fn balance(&self) -> BoxFuture<'_, Result<U256, TxError>> {
        Box::pin(async move { Ok(U256::from(10).pow(U256::from(20))) })
    }

    fn prepare(
        &self,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> BoxFuture<'_, Result<SentTx, TxError>> {
        Box::pin(async move {
            self.with(|c| {
                let s = selector(&data);
                if let Some(i) = c.refuse.iter().position(|(r, _)| *r == s) {
                    return Err(contract(c.refuse.remove(i).1));
                }
                // Simulated in the next block on a copy of the contract's state.
                let saved = (c.commitments.clone(), c.bond, c.credits, c.batches.clone());
                let simulated = c.execute(&data, value, c.head + 1);
                (c.commitments, c.bond, c.credits, c.batches) = saved;
                simulated.map_err(contract)?;
                let nonce = c.next_nonce.max(c.mined_nonce);
                c.next_nonce = nonce + 1;
                let mut tx = SentTx {
                    to,
                    data,
                    value,
                    nonce,
                    gas: 100_000,
                    max_fee: c.base_fee * 2,
                    tip: 1,
                    hashes: Vec::new(),
                    raw: Bytes::new(),
                };
                Chain::sign(&mut tx);
                Ok(tx)
            })
        })
    }

    fn broadcast<'a>(&'a self, tx: &'a SentTx) -> BoxFuture<'a, Result<(), TxError>> {
        Box::pin(async move {
            self.with(|c| c.broadcast(tx));
            Ok(())
        })
    }

    /// Mines a block per poll while the transaction is pooled; waits (without mining) while
    /// its receipt is held.
    fn confirm_until<'a>(
        &'a self,
        tx: &'a mut SentTx,
        until: u64,
        persist: &'a mut (dyn FnMut(&SentTx) + Send),
    ) -> BoxFuture<'a, Result<Mined, TxError>> {
        Box::pin(async move {
            loop {
                let poll = self.with(|c| {
                    if let Some(m) = c.receipt(tx) {
                        if c.held(tx) {
                            return Poll::Wait;
                        }
                        if c.head + 1 < m.block + c.confirmations {
                            return Poll::Mine;
                        }
                        return Poll::Done(if m.ok {
                            Ok(Mined { hash: m.hash, block: m.block, gas_used: 50_000 })
                        } else {
                            Err(TxError::Reverted { tx: m.hash, block: m.block })
                        });
                    }
                    if c.mined_nonce > tx.nonce {
                        return Poll::Done(Err(TxError::Replaced { nonce: tx.nonce }));
                    }
                    if c.base_fee > tx.max_fee {
                        tx.max_fee = c.base_fee * 2;
                        Chain::sign(tx);
                        c.bumps += 1;
                        persist(tx);
                    }
                    if !c.pool.iter().any(|p| p.hashes.last() == tx.hashes.last()) {
                        c.broadcast(tx);
                    }
                    Poll::Mine
                });
                match poll {
                    Poll::Done(result) => return result,
                    Poll::Mine => self.mine(),
                    Poll::Wait => tokio::time::sleep(Duration::from_millis(1)).await,
                }
                if self.with(|c| c.head) > until {
                    return Err(TxError::Timeout(Duration::ZERO));
                }
            }
        })
    }

    fn send(&self, to: Address, data: Bytes, value: U256) -> BoxFuture<'_, Result<Mined, TxError>> {
        Box::pin(async move {
            let mut tx = TxSender::prepare(self, to, data, value).await?;
            TxSender::broadcast(self, &tx).await?;
            TxSender::confirm_until(self, &mut tx, u64::MAX, &mut |_| {}).await
        })
    }
}

impl RollupReads for FakeL1 {
    fn batch_count(&self) -> BoxFuture<'_, Result<u64, TxError>> {
        Box::pin(async move { Ok(self.with(|c| c.batches.len() as u64)) })
    }

    fn batch(&self, id: u64) -> BoxFuture<'_, Result<BatchView, TxError>> {
        Box::pin(async move {
            self.with(|c| {
                let index = usize::try_from(id).unwrap_or(usize::MAX);
                let batch =
                    index.checked_sub(1).and_then(|i| c.batches.get(i)).ok_or_else(|| {
                        contract(NativeRollupErrors::UnknownBatch(NativeRollup::UnknownBatch {
                            batchId: id,
                        }))
                    })?;
                Ok(BatchView { status: batch.status, checkpoints_root: batch.checkpoints_root })
            })
        })
    }

    fn reward(&self) -> BoxFuture<'_, Result<U256, TxError>> {
        Box::pin(async move { Ok(self.with(|c| c.reward)) })
    }

    fn challenger_bond(&self, _who: Address) -> BoxFuture<'_, Result<U256, TxError>> {
        Box::pin(async move { Ok(self.with(|c| c.bond)) })
    }

    fn open_commitments(&self, _who: Address) -> BoxFuture<'_, Result<U256, TxError>> {
        Box::pin(async move { Ok(self.with(|c| U256::from(c.commitments.len()))) })
    }

    fn bond_unit(&self) -> BoxFuture<'_, Result<U256, TxError>> {
        Box::pin(async move { Ok(self.with(|c| c.unit)) })
    }
}
