//! The submitter: turns a lie the watcher found into a conviction on L1, without ever
//! risking gas or bond on a proof it has not checked itself.
//!
//! Input: a [`Lie`] (the first wrong checkpoint and its trace). Output: an [`Intent`] that
//! moves through [`Stage`]s, persisted in the challenger's database before every send:
//! self-check (the stateless verifier EXECUTE runs must confirm the local root and it must
//! differ from the claim) -> budget plan (bisect) -> expected-value check -> bond -> commit
//! -> reveal -> landed, or stood down (someone else convicted the batch first) or refused
//! (with the reason, as an alarm). A restart resumes every unfinished intent from its stage.

pub mod keys;
pub mod pool;
pub mod remote;
pub mod seams;
pub mod txmgr;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub use keys::{KeyError, KeySource, TxKey};
pub use pool::Advancing;
pub use seams::{BatchView, ContractReads, Mined, RollupReads, TxSender};
pub use txmgr::{SentTx, TxError, TxManager, TxPolicy};

use crate::bisect::{Budgets, ChallengeShape, ChunkPlan, plan_chunk};
use crate::execute_local::chain::ChainRules;
use crate::execute_local::execute::execute;
use crate::protocol::batch_tree::{batch_headers, batch_leaves, leaf_index, leaves_root};
use crate::protocol::{Checkpoint, CheckpointProof, Cut, ExecuteCall, Trace, execute_gas_cost};
use crate::rollup::{ChallengeArgs, NativeRollupErrors};
use crate::watcher::{Lie, WatchDb};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::SolCall;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Where an intent stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    Planned,
    Committing {
        tx: SentTx,
    },
    Committed {
        block: u64,
    },
    Revealing {
        tx: SentTx,
    },
    Landed {
        tx: B256,
        block: u64,
        gas_used: u64,
    },
    /// Planned but held back, re-evaluated at every poll until the window closes: the
    /// expected value is negative at today's fees, or reading what it needs failed.
    Waiting {
        reason: String,
    },
    /// Another challenger convicted the batch first, or the proposal it proves wrong is no
    /// longer on L1 (a reorg replaced it); our commitment was released.
    StoodDown {
        reason: String,
    },
    /// Not sent, and why (an alarm).
    Refused {
        reason: String,
    },
}

impl Stage {
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Landed { .. } | Self::StoodDown { .. } | Self::Refused { .. })
    }

    /// Whether an on-chain transaction of ours may be in flight at this stage.
    pub fn in_flight(&self) -> bool {
        matches!(self, Self::Committing { .. } | Self::Revealing { .. })
    }
}

/// One challenge, from plan to landing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub batch_id: u64,
    /// The block holding the wrong leaf, and the leaf's index in the batch's tree (a cut's
    /// or the block's header; docs/protocol.md, "Segments").
    pub block_index: u64,
    #[serde(default)]
    pub leaf_index: u64,
    pub claimed: Vec<Checkpoint>,
    #[serde(default)]
    pub claimed_cuts: Vec<Vec<Cut>>,
    pub post_state_root: B256,
    pub gas_used: u64,
    pub trace: Bytes,
    pub salt: B256,
    /// L1 timestamp of the wrong proposal (for the proposal-to-landing time).
    pub proposed_at: u64,
    /// The proposal's `checkpointsRoot` (the Merkle root of its block hashes): with the batch
    /// id, what identifies the proposal (a different proposal under the same id after a reorg
    /// is a different intent).
    #[serde(default, alias = "checkpoints_hash")]
    pub checkpoints_root: B256,
    /// Where the block sits in the batch, as the contract checks it: built from the header
    /// before the batch and `claimed` when the intent is made. Boxed: two headers and a path
    /// would make every intent event twice the size of a finding.
    #[serde(default)]
    pub proof: Box<CheckpointProof>,
    /// The last L1 block in which the challenge can land.
    #[serde(default)]
    pub window_closes: u64,
    /// The planned L1 gas of commit and reveal, for the expected value.
    #[serde(default)]
    pub l1_gas: u64,
    /// Commit/reveal rounds that failed on chain (each takes a new salt and backs off).
    #[serde(default)]
    pub attempts: u32,
    /// Not retried before this L1 block (the backoff after a failed round).
    #[serde(default)]
    pub retry_at: u64,
    pub stage: Stage,
}

impl Intent {
    /// The intent to prove `lie` with the local transition, at `stage`.
    pub fn new(lie: &Lie, salt: B256, stage: Stage) -> Self {
        let leaves = batch_leaves(&batch_headers(&lie.base, &lie.claimed), &lie.claimed_cuts);
        let leaf = leaf_index(&lie.claimed_cuts, lie.index, usize::from(lie.segment));
        Self {
            batch_id: lie.batch_id,
            block_index: lie.index as u64,
            leaf_index: leaf as u64,
            claimed: lie.claimed.clone(),
            claimed_cuts: lie.claimed_cuts.clone(),
            post_state_root: lie.local.post_state_root,
            gas_used: lie.local.gas_used,
            trace: lie.trace.clone(),
            salt,
            proposed_at: lie.l1_timestamp,
            checkpoints_root: leaves_root(&leaves),
            // The watcher's lie is always inside its batch; a default proof could only make
            // the reveal revert, and the self-check refuses it first.
            proof: Box::new(
                CheckpointProof::from_leaves(&lie.base, &leaves, leaf).unwrap_or_default(),
            ),
            window_closes: 0,
            l1_gas: 0,
            attempts: 0,
            retry_at: 0,
            stage,
        }
    }

    /// The database key: batch id, then the proposal's checkpoints root, then the leaf.
    pub fn key(&self) -> String {
        intent_key(self.batch_id, self.checkpoints_root, self.leaf_index)
    }

    pub fn args(&self) -> ChallengeArgs {
        ChallengeArgs {
            batch_id: self.batch_id,
            proof: (*self.proof).clone(),
            post_state_root: self.post_state_root,
            gas_used: self.gas_used,
            trace: self.trace.clone(),
            salt: self.salt,
        }
    }
}

/// Intents sort by batch id first (oldest batch first), then by proposal.
fn intent_key(batch_id: u64, checkpoints: B256, leaf_index: u64) -> String {
    format!("batch-{batch_id:020}-{checkpoints}-leaf-{leaf_index:06}")
}

/// What the submitter may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitPolicy {
    pub budgets: Budgets,
    /// Challenge even when the gas costs more than the reward (a watchtower protecting users).
    pub challenge_always: bool,
    /// Deposit the challenger bond when it is short.
    pub auto_deposit: bool,
    /// Withdraw rewards as soon as a challenge lands.
    pub auto_claim: bool,
}

impl Default for SubmitPolicy {
    fn default() -> Self {
        Self {
            budgets: Budgets::default(),
            challenge_always: false,
            auto_deposit: true,
            auto_claim: true,
        }
    }
}

/// Why a challenge cannot be made (the self-check and the plan refuse with these).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("self-check failed: {0}")]
    SelfCheck(String),
    #[error("no chunk fits: {0}")]
    NoFit(#[from] crate::bisect::NoFit),
    #[error("expected value: the challenge costs ~{cost} wei, the reward is {reward} wei")]
    NotWorthIt { cost: U256, reward: U256 },
}

/// Checks a lie's proof with the same verifier EXECUTE runs: it must confirm the local
/// transition of the segment from the state the leaf before it claims, and that transition
/// must differ from the claimed leaf.
///
/// The segment's location is the contract's too: the trace must start at the parent the
/// claimed leaf names, at the segment, transaction and gas the previous leaf ends at, and the
/// pre-state EXECUTE is given is that leaf's state root. (The watcher already checked the
/// claimed checkpoints and cuts against the contract's root.)
pub fn self_check(rules: &ChainRules, lie: &Lie) -> Result<(), Refusal> {
    let refuse = |why: String| Refusal::SelfCheck(why);
    let trace = Trace::decode(&lie.trace).map_err(|e| refuse(format!("trace: {e}")))?;
    let leaves = batch_leaves(&batch_headers(&lie.base, &lie.claimed), &lie.claimed_cuts);
    let leaf = leaf_index(&lie.claimed_cuts, lie.index, usize::from(lie.segment));
    let proof = CheckpointProof::from_leaves(&lie.base, &leaves, leaf)
        .ok_or_else(|| refuse("leaf out of range".into()))?;
    let claimed = &proof.claimed;
    if trace.parent_hash != claimed.parent_hash {
        return Err(refuse(format!(
            "the trace starts at {} but the block's parent is {}",
            trace.parent_hash, claimed.parent_hash
        )));
    }
    let origin = proof.origin();
    let segment = trace.segment;
    if (segment.index, segment.start_tx, segment.gas_before)
        != (origin.segment, origin.start_tx, origin.gas_before)
    {
        return Err(refuse(format!(
            "the trace runs segment {} from transaction {} after {} gas, the leaf before the claim ends at segment {}, transaction {}, {} gas",
            segment.index,
            segment.start_tx,
            segment.gas_before,
            origin.segment,
            origin.start_tx,
            origin.gas_before
        )));
    }
    let call = ExecuteCall {
        pre_state_root: origin.pre_state_root,
        post_state_root: lie.local.post_state_root,
        trace: lie.trace.clone(),
        gas_used: lie.local.gas_used,
    };
    match execute(rules, &call) {
        Ok(true) => {}
        Ok(false) => {
            return Err(refuse("the verifier does not confirm the local transition".into()));
        }
        Err(e) => return Err(refuse(format!("the verifier rejects the trace: {e}"))),
    }
    // A header claims the segment that ends the block: its end is the block's last
    // transaction.
    let tx_count = trace.blocks.first().map_or(0, |b| b.transactions.len());
    let claimed_end = if claimed.cut { claimed.end_tx as usize } else { tx_count };
    if (claimed.state_root, claimed.gas_used, claimed_end)
        == (lie.local.post_state_root, lie.local.gas_used, segment.end_tx as usize)
    {
        return Err(refuse("the proven transition equals the claim".into()));
    }
    Ok(())
}

/// The plan for a lie's challenge: it fits every budget, or the alarm's numbers.
pub fn plan(
    lie: &Lie,
    salt: B256,
    descendants: u64,
    budgets: &Budgets,
) -> Result<(Intent, ChunkPlan), Refusal> {
    let intent = Intent::new(lie, salt, Stage::Planned);
    let calldata = intent.args().call().abi_encode();
    let charge = execute_gas_cost(&lie.trace)
        .map_err(|e| Refusal::SelfCheck(format!("trace framing: {e}")))?;
    let shape = ChallengeShape::of(&calldata, lie.trace.len(), charge, descendants);
    let plan = plan_chunk(lie.index, &shape, budgets)?;
    Ok((intent, plan))
}

/// A fresh salt for a commitment (unpredictable, so a commitment reveals nothing).
pub fn new_salt() -> B256 {
    let mut bytes = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    keccak256(bytes)
}

/// Runs intents against the rollup contract, through the [`TxSender`] and [`RollupReads`]
/// seams. Cheap to clone: clones share the sender (and so its nonce sequence).
#[derive(Debug, Clone)]
pub struct Submitter {
    tx: Arc<dyn TxSender>,
    reads: Arc<dyn RollupReads>,
    rollup: Address,
    db: Arc<WatchDb>,
    policy: SubmitPolicy,
    /// The contract's `CHALLENGE_WINDOW`, in L1 blocks.
    window: u64,
    /// Held while the bond is checked and topped up (intents advancing at once deposit once).
    bond_lock: Arc<tokio::sync::Mutex<()>>,
}

mod flow;

impl Submitter {
    /// `window` is the contract's `CHALLENGE_WINDOW`, in L1 blocks; `rollup` the contract
    /// `reads` reads and the transactions go to.
    pub fn new(
        tx: Arc<dyn TxSender>,
        reads: Arc<dyn RollupReads>,
        rollup: Address,
        db: Arc<WatchDb>,
        policy: SubmitPolicy,
        window: u64,
    ) -> Self {
        Self { tx, reads, rollup, db, policy, window, bond_lock: Arc::default() }
    }

    /// The submitter over JSON-RPC: `tx` sends, the contract's views are read on its provider.
    pub fn over_rpc(
        tx: TxManager,
        rollup: Address,
        db: Arc<WatchDb>,
        policy: SubmitPolicy,
        window: u64,
    ) -> Self {
        let reads = ContractReads::new(tx.provider().clone(), rollup);
        Self::new(Arc::new(tx), Arc::new(reads), rollup, db, policy, window)
    }

    pub fn address(&self) -> Address {
        self.tx.address()
    }

    /// The reward a conviction pays: the proposer bond's challenger share.
    pub async fn reward(&self) -> Result<U256, TxError> {
        self.reads.reward().await
    }

    /// The challenger bond deposited in the contract.
    pub async fn bond(&self) -> Result<U256, TxError> {
        self.reads.challenger_bond(self.address()).await
    }

    /// The account's gas balance.
    pub async fn balance(&self) -> Result<U256, TxError> {
        self.tx.balance().await
    }

    fn persist(&self, intent: &Intent) {
        if let Err(err) = self.db.put_intent(&intent.key(), intent) {
            tracing::error!(target: "native_challenger::submitter", %err, "could not persist a challenge intent");
        }
    }

    /// Unfinished intents, oldest batch first.
    pub fn open_intents(&self) -> Result<Vec<Intent>, crate::watcher::db::DbError> {
        Ok(self.db.intents::<Intent>()?.into_iter().filter(|i| !i.stage.is_final()).collect())
    }

    /// Whether a contract error means the batch can no longer be convicted by anyone.
    fn batch_gone(err: &NativeRollupErrors) -> Option<String> {
        match err {
            NativeRollupErrors::BatchNotPending(e) => {
                Some(format!("batch {} is no longer pending ({:?})", e.batchId, e.status))
            }
            NativeRollupErrors::ChallengeWindowClosed(e) => Some(format!(
                "the window of batch {} closed after L1 block {}",
                e.batchId, e.closedAfter
            )),
            _ => None,
        }
    }
}
