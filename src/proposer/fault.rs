//! The lies a proposer can tell on purpose, so tests and the demo fight a real adversary.
//!
//! Input: the honest checkpoints of a batch (from executing its blocks). Output: the claimed
//! checkpoints, differing from the honest ones exactly where the fault says. Faults that change
//! the blocks themselves (an invalid transaction, an oversized block) are applied by the
//! proposer while it builds the block; their lie is applied here.

use super::hostile::Hostile;
use crate::protocol::{Checkpoint, Cut};
use alloy_primitives::{B256, keccak256};
use std::str::FromStr;

/// What a dishonest proposer does to one block (`block` is its index in the batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Claims a post-state root that execution does not reach.
    WrongPostRoot { block: usize },
    /// Claims the right root but a different gas used.
    WrongGasUsed { block: usize },
    /// A wrong root at `block`, which is not the last; the batch's final checkpoint is right.
    WrongIntermediate { block: usize },
    /// Includes an undecodable and a wrong-nonce transaction, and claims the block as if they
    /// voided it (no state change, no gas), instead of skipping them as the STF says.
    InvalidTx { block: usize },
    /// Gives the block a gas limit above a whole L1 block's EXECUTE budget (2^25); the
    /// contract's `MAX_L2_GAS_LIMIT` refuses the batch. (Under v3 such a block would still be
    /// provable, segment by segment: the limit bounds replay work, not proofs.)
    OversizedBlock { block: usize },
    /// Fills the block to its gas limit ([`super::full`]: a 24 KiB deployment and gas
    /// burners, several segments at a 30M limit) and claims a wrong state root in its last
    /// cut (the state after its second-to-last segment; docs/protocol.md, "Segments"), the
    /// block's own checkpoint right: the lie sits inside a full block, and only a challenge
    /// of one segment can reach it. On a block of one segment (no cut) the block's root is
    /// the lie instead.
    WrongCut { block: usize },
    /// Fills the block with a hostile workload built to make its proof as large as possible
    /// ([`Hostile`]), and claims a wrong post-state root for it.
    Hostile { block: usize, class: Hostile },
}

impl Fault {
    pub fn block(&self) -> usize {
        match *self {
            Self::WrongPostRoot { block }
            | Self::WrongGasUsed { block }
            | Self::WrongIntermediate { block }
            | Self::InvalidTx { block }
            | Self::OversizedBlock { block }
            | Self::WrongCut { block }
            | Self::Hostile { block, .. } => block,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::WrongPostRoot { .. } => "wrong-root",
            Self::WrongGasUsed { .. } => "wrong-gas",
            Self::WrongIntermediate { .. } => "wrong-intermediate",
            Self::InvalidTx { .. } => "invalid-tx",
            Self::OversizedBlock { .. } => "oversized-block",
            Self::WrongCut { .. } => "wrong-cut",
            Self::Hostile { class, .. } => match class {
                Hostile::Accounts => "hostile-accounts",
                Hostile::Slots => "hostile-slots",
                Hostile::Codes => "hostile-codes",
                Hostile::Deletions => "hostile-deletions",
                Hostile::Garbage => "hostile-garbage",
                Hostile::Signatures => "hostile-signatures",
                Hostile::Flood => "hostile-flood",
                Hostile::Calldata => "hostile-calldata",
                Hostile::Blockhash => "hostile-blockhash",
            },
        }
    }

    /// The same kind of fault at another block.
    pub fn at(&self, block: usize) -> Self {
        match self {
            Self::WrongPostRoot { .. } => Self::WrongPostRoot { block },
            Self::WrongGasUsed { .. } => Self::WrongGasUsed { block },
            Self::WrongIntermediate { .. } => Self::WrongIntermediate { block },
            Self::InvalidTx { .. } => Self::InvalidTx { block },
            Self::OversizedBlock { .. } => Self::OversizedBlock { block },
            Self::WrongCut { .. } => Self::WrongCut { block },
            Self::Hostile { class, .. } => Self::Hostile { block, class: *class },
        }
    }

    /// Every kind, at block 0.
    pub fn kinds() -> [Fault; 6] {
        [
            Self::WrongCut { block: 0 },
            Self::WrongPostRoot { block: 0 },
            Self::WrongGasUsed { block: 0 },
            Self::WrongIntermediate { block: 0 },
            Self::InvalidTx { block: 0 },
            Self::OversizedBlock { block: 0 },
        ]
    }

    /// The claimed checkpoints and cuts: `honest` and `honest_cuts` with this fault's lie.
    /// `pre_root` is the state root before the batch's first block.
    pub fn claim(
        &self,
        honest: &[Checkpoint],
        honest_cuts: &[Vec<Cut>],
        pre_root: B256,
    ) -> (Vec<Checkpoint>, Vec<Vec<Cut>>) {
        let mut claimed = honest.to_vec();
        let mut cuts = honest_cuts.to_vec();
        let k = self.block();
        let Some(true_cp) = honest.get(k).copied() else { return (claimed, cuts) };
        let before = if k == 0 { pre_root } else { honest[k - 1].post_state_root };
        let lie_about = |root: B256| keccak256([root.as_slice(), b"lie"].concat());
        if let (Self::WrongCut { .. }, Some(last)) =
            (self, cuts.get_mut(k).and_then(|c| c.last_mut()))
        {
            last.state_root = lie_about(last.state_root);
            return (claimed, cuts);
        }
        let lie = &mut claimed[k];
        match self {
            Self::WrongPostRoot { .. }
            | Self::WrongIntermediate { .. }
            | Self::Hostile { .. }
            | Self::WrongCut { .. } => {
                lie.post_state_root = lie_about(true_cp.post_state_root);
            }
            // Lower, not higher: the contract refuses a gas used above the block's gas limit.
            Self::WrongGasUsed { .. } => {
                lie.gas_used = true_cp.gas_used.checked_sub(1).unwrap_or(1);
            }
            Self::InvalidTx { .. } => {
                // As if the block's transactions were void: no cut, no change, no gas.
                if let Some(block_cuts) = cuts.get_mut(k) {
                    block_cuts.clear();
                }
                lie.post_state_root = before;
                lie.gas_used = 0;
            }
            Self::OversizedBlock { .. } => {}
        }
        (claimed, cuts)
    }
}

/// Why a fault could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown fault {0:?}: expected <kind>@<block index>, kind one of wrong-root, wrong-cut, wrong-gas, wrong-intermediate, invalid-tx, oversized-block, hostile-accounts, hostile-slots, hostile-codes, hostile-deletions, hostile-garbage, hostile-signatures, hostile-flood, hostile-calldata, hostile-blockhash"
)]
pub struct ParseFaultError(String);

impl FromStr for Fault {
    type Err = ParseFaultError;

    /// `wrong-root@2`: the kind, `@`, the block's index in its batch (default 0).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseFaultError(s.to_string());
        let (name, block) = match s.split_once('@') {
            Some((name, index)) => (name, index.parse().map_err(|_| err())?),
            None => (s, 0),
        };
        let hostile = Hostile::ALL.map(|class| Self::Hostile { block: 0, class });
        Self::kinds()
            .into_iter()
            .chain(hostile)
            .find(|f| f.name() == name)
            .map(|f| f.at(block))
            .ok_or_else(err)
    }
}
