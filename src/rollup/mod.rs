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

pub use bindings::NativeRollup::{self, Checkpoint as SolCheckpoint, NativeRollupErrors};
pub use client::{ChallengeArgs, RollupClient, RollupError};
pub use genesis::{GenesisSource, L2Genesis, dev_users};
pub use params::RollupParams;

use crate::protocol::Checkpoint;

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
        gasUsed: alloy_primitives::U256::from(checkpoint.gas_used),
    }
}

/// The protocol's L2 header in the contract's ABI form (`abi.encode` of it is the header's
/// 160 bytes).
pub fn to_sol_header(header: &crate::protocol::L2Header) -> bindings::NativeRollup::Header {
    bindings::NativeRollup::Header {
        parentHash: header.parent_hash,
        number: alloy_primitives::U256::from(header.number),
        inputCommitment: header.input_commitment,
        stateRoot: header.state_root,
        gasUsed: alloy_primitives::U256::from(header.gas_used),
    }
}

/// The contract's checkpoint as a protocol checkpoint; `None` if gas used exceeds u64.
pub fn from_sol(checkpoint: &SolCheckpoint) -> Option<Checkpoint> {
    Some(Checkpoint {
        input_commitment: checkpoint.inputCommitment,
        post_state_root: checkpoint.postStateRoot,
        gas_used: u64::try_from(checkpoint.gasUsed).ok()?,
    })
}
