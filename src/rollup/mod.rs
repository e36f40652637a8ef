//! The L1 rollup contract as Rust sees it.
//!
//! Input: the artifacts `contracts/build.mjs` compiles from `contracts/` with the pinned solc
//! (committed under `contracts/out`; a test fails if they are stale). Output: typed bindings
//! ([`bindings`]), the deployment parameters ([`RollupParams`]) and a client that drives the
//! contract over standard JSON-RPC ([`client::RollupClient`]), so the proposer, the tests and
//! the challenger all speak to the contract one way, against any node.

pub mod bindings;
pub mod client;
pub mod genesis;
pub mod genesis_file;
pub mod params;

pub use bindings::NativeRollup::{
    self, Checkpoint as SolCheckpoint, Cut as SolCut, Leaf as SolLeaf, NativeRollupErrors,
};
pub use client::{ChallengeArgs, RollupClient, RollupError};
pub use genesis::{GenesisSource, L2Genesis, dev_users};
pub use params::RollupParams;

use crate::protocol::{Checkpoint, Cut, Leaf};
use alloy_primitives::U256;

/// Batch status as the contract stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchStatus {
    None,
    Pending,
    Finalized,
    Invalidated,
}

impl BatchStatus {
    pub fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0 => Self::None,
            1 => Self::Pending,
            2 => Self::Finalized,
            3 => Self::Invalidated,
            _ => return None,
        })
    }
}

/// The protocol checkpoint in the contract's ABI form.
pub fn to_sol(checkpoint: &Checkpoint) -> SolCheckpoint {
    SolCheckpoint {
        inputCommitment: checkpoint.input_commitment,
        postStateRoot: checkpoint.post_state_root,
        gasUsed: U256::from(checkpoint.gas_used),
    }
}

/// A batch-tree leaf in the contract's ABI form (`Leaf` of `challenge`).
pub fn to_sol_leaf(leaf: &Leaf) -> SolLeaf {
    SolLeaf {
        parentHash: leaf.parent_hash,
        number: U256::from(leaf.number),
        inputCommitment: leaf.input_commitment,
        segment: U256::from(leaf.segment),
        endTx: U256::from(leaf.end_tx),
        stateRoot: leaf.state_root,
        gasUsed: U256::from(leaf.gas_used),
        cut: leaf.cut,
    }
}

/// The contract's leaf as a protocol leaf; `None` if a field exceeds its protocol width.
pub fn from_sol_leaf(leaf: &SolLeaf) -> Option<Leaf> {
    Some(Leaf {
        parent_hash: leaf.parentHash,
        number: u64::try_from(leaf.number).ok()?,
        input_commitment: leaf.inputCommitment,
        segment: u16::try_from(leaf.segment).ok()?,
        end_tx: u32::try_from(leaf.endTx).ok()?,
        state_root: leaf.stateRoot,
        gas_used: u64::try_from(leaf.gasUsed).ok()?,
        cut: leaf.cut,
    })
}

/// A batch's cuts (`cuts[i]`: block `i`'s) as `propose` takes them: one list, by block.
pub fn to_sol_cuts(cuts: &[Vec<Cut>]) -> Vec<SolCut> {
    (0u64..)
        .zip(cuts)
        .flat_map(|(block, cuts)| {
            cuts.iter().map(move |cut| SolCut {
                blockIndex: U256::from(block),
                endTx: U256::from(cut.end_tx),
                stateRoot: cut.state_root,
                gasUsed: U256::from(cut.gas_used),
            })
        })
        .collect()
}

/// The cuts of a batch of `blocks` blocks from `propose`'s list; `None` if a block index is
/// out of range or out of order, or a field exceeds its protocol width (the contract refuses
/// such a proposal, so only a wrong answer can carry one).
pub fn from_sol_cuts(sol: &[SolCut], blocks: usize) -> Option<Vec<Vec<Cut>>> {
    let mut out = vec![Vec::new(); blocks];
    let mut last = 0usize;
    for cut in sol {
        let block = usize::try_from(cut.blockIndex).ok()?;
        if block < last {
            return None;
        }
        last = block;
        out.get_mut(block)?.push(Cut {
            end_tx: u32::try_from(cut.endTx).ok()?,
            state_root: cut.stateRoot,
            gas_used: u64::try_from(cut.gasUsed).ok()?,
        });
    }
    Some(out)
}

/// The contract's checkpoint as a protocol checkpoint; `None` if gas used exceeds u64.
pub fn from_sol(checkpoint: &SolCheckpoint) -> Option<Checkpoint> {
    Some(Checkpoint {
        input_commitment: checkpoint.inputCommitment,
        post_state_root: checkpoint.postStateRoot,
        gas_used: u64::try_from(checkpoint.gasUsed).ok()?,
    })
}
