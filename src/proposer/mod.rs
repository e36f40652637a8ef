//! A proposer that builds L2 blocks from a workload, executes them with `execute_local`, and
//! proposes them to the rollup contract, honestly or with a chosen lie ([`Fault`]).
//!
//! Input: an L2 store initialised at the rollup's genesis, the chain rules, a [`Workload`],
//! and for each batch the L1 block to anchor to. Output: [`PlannedBatch`]es (block inputs,
//! honest and claimed checkpoints) and their proposals on L1. The proposer's store always
//! holds the TRUE L2 state: a lie lives only in the claimed checkpoints. After one of its
//! batches is invalidated, [`Proposer::rewind_to`] takes the store back to the last good block.

pub mod driver;
pub mod fault;
pub mod full;
pub mod hostile;
pub mod workload;

pub use fault::Fault;
pub use workload::{Workload, WorkloadSpec};

use crate::execute_local::chain::ChainRules;
use crate::execute_local::l2::L2Block;
use crate::execute_local::replay::{ReplayError, execute_on_store};
use crate::execute_local::store::{StateStore, StoreError};
use crate::protocol::{
    BLOCK_INPUTS_FIXED_LEN, BlockInputs, Checkpoint, Cut, MAX_BLOCK_INPUT_BYTES, ProtocolError,
};
use crate::rollup::{NativeRollup, RollupClient, RollupError, to_sol, to_sol_cuts};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};

/// Block-building choices of the proposer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposerConfig {
    /// Gas limit of every L2 block (at most the rollup's `MAX_L2_GAS_LIMIT`).
    pub l2_gas_limit: u64,
    /// Base fee of every L2 block, in wei.
    pub base_fee: u64,
    pub fee_recipient: Address,
}

impl Default for ProposerConfig {
    fn default() -> Self {
        Self {
            l2_gas_limit: crate::rollup::params::DEFAULT_MAX_L2_GAS_LIMIT,
            base_fee: 1_000_000_000,
            fee_recipient: Address::repeat_byte(0xfe),
        }
    }
}

/// The L1 block a batch anchors to (its hash becomes every block's `l1_anchor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Anchor {
    pub number: u64,
    pub hash: B256,
    pub timestamp: u64,
}

/// A batch ready to propose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedBatch {
    /// The batch id it extends.
    pub parent: u64,
    pub anchor: L1Anchor,
    pub blocks: Vec<BlockInputs>,
    /// Checkpoints from executing the blocks.
    pub honest: Vec<Checkpoint>,
    /// Checkpoints as proposed (differ from `honest` where the fault lies).
    pub claimed: Vec<Checkpoint>,
    /// Cuts from executing the blocks (`honest_cuts[i]`: block `i`'s; docs/protocol.md,
    /// "Segments"), and as proposed.
    pub honest_cuts: Vec<Vec<Cut>>,
    pub claimed_cuts: Vec<Vec<Cut>>,
    pub fault: Option<Fault>,
}

impl PlannedBatch {
    /// The index of the first block whose claimed checkpoint or cuts are wrong.
    pub fn first_lie(&self) -> Option<usize> {
        (0..self.honest.len()).find(|&i| {
            self.honest.get(i) != self.claimed.get(i)
                || self.honest_cuts.get(i) != self.claimed_cuts.get(i)
        })
    }

    /// The `propose` call carrying this batch.
    pub fn call(&self) -> Result<NativeRollup::proposeCall, ProtocolError> {
        let blocks = self
            .blocks
            .iter()
            .map(|b| b.encode().map(Bytes::from))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NativeRollup::proposeCall {
            parent: self.parent,
            anchorBlock: self.anchor.number,
            blocks,
            checkpoints: self.claimed.iter().map(to_sol).collect(),
            cuts: to_sol_cuts(&self.claimed_cuts),
        })
    }
}

/// The timestamp of block `index` of a batch of `count` anchored at L1 time `anchor`: one
/// second apart, the last at the anchor's, never before the previous block (`last`). The L2
/// clock thus follows the L1's, and a fork activated by timestamp takes effect at the first
/// block at or past it, inside a batch if it falls there (docs/protocol.md, "State
/// transition function").
pub fn block_timestamp(last: u64, anchor: u64, count: usize, index: usize) -> u64 {
    let behind = count.saturating_sub(1).saturating_sub(index) as u64;
    anchor.saturating_sub(behind).max(last)
}

/// Why the proposer failed.
#[derive(Debug, thiserror::Error)]
pub enum ProposerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("executing L2 block {number}: {source}")]
    Replay { number: u64, source: ReplayError },
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error(transparent)]
    Rollup(#[from] RollupError),
    #[error("genesis: {0}")]
    Genesis(String),
    #[error("fork {fork:?}: {reason}")]
    Fork { fork: String, reason: String },
    #[error("fault at block {block} of a {blocks}-block batch")]
    FaultOutOfRange { block: usize, blocks: usize },
}

/// The proposer. See the module documentation.
#[derive(Debug)]
pub struct Proposer {
    store: StateStore,
    rules: ChainRules,
    workload: Workload,
    config: ProposerConfig,
    last_timestamp: u64,
}

impl Proposer {
    /// A proposer over `store` (initialised at the genesis) whose last L2 timestamp is
    /// `genesis_timestamp` or later.
    pub fn new(
        store: StateStore,
        rules: ChainRules,
        mut workload: Workload,
        config: ProposerConfig,
        genesis_timestamp: u64,
    ) -> Result<Self, ProposerError> {
        workload.sync(&store)?;
        Ok(Self { store, rules, workload, config, last_timestamp: genesis_timestamp })
    }

    pub fn store(&self) -> &StateStore {
        &self.store
    }

    pub fn rules(&self) -> &ChainRules {
        &self.rules
    }

    /// Builds and executes `count` blocks on the store's head, with `fault`'s lie if any.
    pub fn build_batch(
        &mut self,
        parent: u64,
        anchor: L1Anchor,
        count: usize,
        fault: Option<Fault>,
    ) -> Result<PlannedBatch, ProposerError> {
        if let Some(f) = fault.filter(|f| f.block() >= count) {
            return Err(ProposerError::FaultOutOfRange { block: f.block(), blocks: count });
        }
        let head = self.store.head()?.ok_or(StoreError::Uninitialised)?;
        let mut blocks = Vec::with_capacity(count);
        let mut honest = Vec::with_capacity(count);
        let mut honest_cuts = Vec::with_capacity(count);
        let mut timestamp = self.last_timestamp;
        for i in 0..count {
            timestamp = block_timestamp(self.last_timestamp, anchor.timestamp, count, i);
            let inputs =
                self.next_inputs(head.number + 1 + i as u64, timestamp, anchor.hash, fault, i);
            let block = L2Block::new(inputs)?;
            let number = block.inputs.number;
            let pending = execute_on_store(&self.store, &self.rules, &block)
                .map_err(|source| ProposerError::Replay { number, source })?;
            honest.push(Checkpoint {
                input_commitment: block.input_commitment,
                post_state_root: pending.post_state_root,
                gas_used: pending.outcome.gas_used,
            });
            honest_cuts.push(pending.cuts.clone());
            pending.commit(&self.store)?;
            blocks.push(block.inputs);
        }
        self.last_timestamp = timestamp;
        let (claimed, claimed_cuts) = match fault {
            Some(f) => f.claim(&honest, &honest_cuts, head.state_root),
            None => (honest.clone(), honest_cuts.clone()),
        };
        Ok(PlannedBatch {
            parent,
            anchor,
            blocks,
            honest,
            claimed,
            honest_cuts,
            claimed_cuts,
            fault,
        })
    }

    fn next_inputs(
        &mut self,
        number: u64,
        timestamp: u64,
        l1_anchor: B256,
        fault: Option<Fault>,
        index: usize,
    ) -> BlockInputs {
        let here = fault.filter(|f| f.block() == index);
        let mut gas_limit = self.config.l2_gas_limit;
        if let Some(Fault::OversizedBlock { .. }) = here {
            // Over the contract's `MAX_L2_GAS_LIMIT` (30M by default): `propose` refuses it.
            gas_limit = crate::precompile::DEFAULT_EXECUTE_BLOCK_GAS_LIMIT + 1;
        }
        let mut transactions = match here {
            Some(Fault::Hostile { class, .. }) => {
                // A sweep takes all the block's gas that its intrinsic cost leaves; the padding
                // fills what the calls leave of the block's input bytes.
                // One segment's gas, the most one transaction may have (docs/protocol.md,
                // "Segments").
                let calls: Vec<Bytes> = class
                    .calls(self.config.l2_gas_limit.min(crate::protocol::SEGMENT_GAS))
                    .into_iter()
                    .map(|(to, data, gas)| self.workload.call_tx(to, data, gas))
                    .collect();
                let used: usize = calls.iter().map(|tx| 4 + tx.len()).sum();
                let room = MAX_BLOCK_INPUT_BYTES.saturating_sub(BLOCK_INPUTS_FIXED_LEN + used);
                let mut txs = class.padding(self.workload.chain_id(), room);
                txs.extend(calls);
                txs
            }
            // A full block of several segments, whose last cut is the lie.
            Some(Fault::WrongCut { .. }) => full::full_block_txs(&mut self.workload, gas_limit),
            _ => self.workload.block_txs(self.config.l2_gas_limit),
        };
        if let Some(Fault::InvalidTx { .. }) = here {
            transactions.insert(0, Bytes::from_static(&[0x02, 0xc0, 0xde]));
            transactions.push(self.workload.invalid_nonce_tx());
        }
        BlockInputs {
            number,
            timestamp,
            fee_recipient: self.config.fee_recipient,
            prev_randao: keccak256([l1_anchor.as_slice(), &number.to_be_bytes()].concat()),
            gas_limit,
            base_fee: self.config.base_fee,
            l1_anchor,
            transactions,
        }
    }

    /// Proposes `batch` with `bond`; returns the batch id.
    pub async fn propose(
        &self,
        client: &RollupClient,
        batch: &PlannedBatch,
        bond: U256,
    ) -> Result<(u64, alloy_rpc_types_eth::TransactionReceipt), ProposerError> {
        Ok(client.propose(&batch.call()?, bond).await?)
    }

    /// Takes the L2 state back to block `number` (the last block of the last good batch).
    pub fn rewind_to(&mut self, number: u64, timestamp: u64) -> Result<(), ProposerError> {
        self.store.rollback_to(number)?;
        self.workload.sync(&self.store)?;
        self.last_timestamp = timestamp;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::block_timestamp;

    #[test]
    fn blocks_are_a_second_apart_up_to_the_anchor_and_never_go_back() {
        let spaced: Vec<u64> = (0..4).map(|i| block_timestamp(100, 1_000, 4, i)).collect();
        assert_eq!(spaced, [997, 998, 999, 1_000]);
        // A batch right after the last one cannot go back in time: the early blocks wait.
        let squeezed: Vec<u64> = (0..4).map(|i| block_timestamp(999, 1_000, 4, i)).collect();
        assert_eq!(squeezed, [999, 999, 999, 1_000]);
        // An anchor older than the last block (a stale read) keeps the last timestamp.
        assert_eq!(block_timestamp(2_000, 1_000, 1, 0), 2_000);
        assert_eq!(block_timestamp(0, 0, 64, 0), 0);
    }
}
