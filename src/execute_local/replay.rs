//! Stateful replay: apply blocks to the L2 state kept in a [`StateStore`].
//!
//! Input: the store (its head is the parent), the chain rules and one block.
//! Output: a [`PendingBlock`] holding the post-state root (computed incrementally: only the
//! trie paths the block touched are read from the store and rehashed), the receipts root, gas
//! used and the outcome. Nothing is written until [`PendingBlock::commit`], which writes the
//! whole block in one atomic batch; so a caller can compare roots first and decide.

use super::block::{BlockOutcome, ExecError};
use super::chain::ChainRules;
use super::chunk::{BlockSpec, Sealed, run_chunk_tries};
use super::commit::BlockWrite;
use super::fault::DbFault;
use super::segments::{SegmentedBlock, run_segments};
use super::store::{Head, StateStore, StoreError};
use super::trie::MemNodes;
use super::tries::{AccountBasics, AccountChange, StateDiff, StateTries};
use super::witness::ReplaySources;
use crate::protocol::Cut;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::EMPTY_ROOT_HASH;
use std::collections::BTreeMap;

/// Errors of stateful replay.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("computing the post-state root: {0}")]
    Root(#[from] DbFault),
}

/// A block executed on top of the store's head, not yet written.
#[derive(Debug)]
pub struct PendingBlock {
    pub number: u64,
    pub parent: Head,
    pub post_state_root: B256,
    pub sealed: Sealed,
    pub outcome: BlockOutcome,
    pub diff: StateDiff,
    /// The state after each segment but the last (docs/protocol.md, "Segments"): what a
    /// proposal commits for the block besides its checkpoint. Empty on chains without
    /// segments and for one-segment blocks.
    pub cuts: Vec<Cut>,
    nodes: Vec<(B256, Bytes)>,
}

impl PendingBlock {
    /// Writes the block, its nodes and its undo record in one batch.
    pub fn commit(self, store: &StateStore) -> Result<Head, StoreError> {
        store.commit_block(BlockWrite {
            number: self.number,
            hash: self.sealed.hash,
            header: &self.sealed.header,
            state_root: self.post_state_root,
            diff: &self.diff,
            nodes: &self.nodes,
            body: &[],
        })
    }
}

/// Executes `block` on the store's head. See the module documentation.
///
/// It runs over the same trie database as witness recording and stateless verification
/// ([`run_chunk_tries`]), reading the state through the tries in the store: the witness meter
/// of protocol v2 counts the nodes a block resolves, so replay must resolve them as EXECUTE
/// will, or it could skip a different set of transactions.
pub fn execute_on_store<B: BlockSpec>(
    store: &StateStore,
    rules: &ChainRules,
    block: &B,
) -> Result<PendingBlock, ReplayError> {
    let parent = store.head()?.ok_or(StoreError::Uninitialised)?;
    let sources = ReplaySources::new(store, parent.number);
    if rules.segments.is_some() {
        return segmented_on_store(rules, block, parent, &sources);
    }
    let (mut steps, mut tries) = run_chunk_tries(
        rules,
        parent.state_root,
        parent.hash,
        std::slice::from_ref(block),
        &sources,
    )?;
    let step = steps.pop().ok_or(ExecError::InvalidBlock { reason: "no block".to_string() })?;
    let mut nodes = Vec::new();
    tries.commit(&mut |hash, node| nodes.push((hash, node)));
    Ok(PendingBlock {
        number: block.number(),
        parent,
        post_state_root: step.post_state_root,
        sealed: step.sealed,
        outcome: step.outcome,
        diff: step.diff,
        cuts: Vec::new(),
        nodes,
    })
}

/// [`execute_on_store`] on a chain whose blocks run as segments: each segment over a fresh
/// trie database, as its verifier runs it ([`run_segments`]). The block's outcome gathers the
/// segments' receipts and skipped transactions; its nodes are every node a segment created
/// (content-addressed, so the intermediate ones cost space and nothing else).
fn segmented_on_store<B: BlockSpec>(
    rules: &ChainRules,
    block: &B,
    parent: Head,
    sources: &ReplaySources<'_>,
) -> Result<PendingBlock, ReplayError> {
    let run = run_segments(rules, parent.state_root, parent.hash, block, sources, None)?;
    let SegmentedBlock { steps, diff, overlay, root, .. } = run;
    let cuts = steps
        .iter()
        .filter(|step| !step.end.last)
        .map(|step| Cut {
            end_tx: step.end.end_tx,
            state_root: step.post_state_root,
            gas_used: step.end.gas_used,
        })
        .collect();
    let mut outcome: Option<BlockOutcome> = None;
    let mut sealed = None;
    for step in steps {
        sealed = step.sealed.or(sealed);
        outcome = Some(match outcome {
            None => step.outcome,
            Some(mut so_far) => {
                so_far.receipts.extend(step.outcome.receipts);
                so_far.skipped.extend(step.outcome.skipped);
                so_far.gas_used = step.outcome.gas_used;
                so_far.blob_gas_used = step.outcome.blob_gas_used;
                so_far.requests = step.outcome.requests;
                so_far.logs_bloom |= step.outcome.logs_bloom;
                so_far
            }
        });
    }
    let no_end =
        || ExecError::InvalidBlock { reason: "the block's last segment did not run".into() };
    let (Some(mut outcome), Some(sealed)) = (outcome, sealed) else { return Err(no_end().into()) };
    outcome.receipts_root = alloy_consensus::proofs::calculate_receipt_root(&outcome.receipts);
    Ok(PendingBlock {
        number: block.number(),
        parent,
        post_state_root: root,
        sealed,
        outcome,
        diff,
        cuts,
        nodes: overlay.nodes.0.into_iter().collect(),
    })
}

/// An account of a genesis allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenesisAccount {
    pub nonce: u64,
    pub balance: U256,
    pub code: Bytes,
    pub storage: BTreeMap<U256, U256>,
}

/// A genesis state, ready to be sealed and written.
#[derive(Debug)]
pub struct GenesisState {
    pub state_root: B256,
    diff: StateDiff,
    nodes: Vec<(B256, Bytes)>,
}

impl GenesisState {
    /// Builds the state and its tries from an allocation.
    pub fn build(alloc: &BTreeMap<Address, GenesisAccount>) -> Result<Self, DbFault> {
        let mut diff = StateDiff::default();
        for (address, account) in alloc {
            let code_hash = keccak256(&account.code);
            if !account.code.is_empty() {
                diff.codes.push((code_hash, account.code.clone()));
            }
            diff.accounts.push(AccountChange {
                address: *address,
                basics: Some(AccountBasics {
                    nonce: account.nonce,
                    balance: account.balance,
                    code_hash,
                }),
                wiped: false,
                storage: account
                    .storage
                    .iter()
                    .filter(|(_, v)| !v.is_zero())
                    .map(|(k, v)| (*k, *v))
                    .collect(),
            });
        }
        diff.codes.sort_unstable_by_key(|(hash, _)| *hash);
        diff.codes.dedup_by_key(|(hash, _)| *hash);
        let empty = MemNodes::default();
        let mut tries = StateTries::new(EMPTY_ROOT_HASH);
        let state_root = tries.apply(&empty, &diff)?;
        let mut nodes = Vec::new();
        tries.commit(&mut |hash, node| nodes.push((hash, node)));
        Ok(Self { state_root, diff, nodes })
    }

    /// Writes the state as block `number` with the given seal.
    pub fn write(
        &self,
        store: &StateStore,
        number: u64,
        sealed: &Sealed,
    ) -> Result<Head, StoreError> {
        store.write_genesis(BlockWrite {
            number,
            hash: sealed.hash,
            header: &sealed.header,
            state_root: self.state_root,
            diff: &self.diff,
            nodes: &self.nodes,
            body: &[],
        })
    }
}
