//! Running a chunk of consecutive blocks against the tries: the shared core of witness
//! recording and stateless verification.
//!
//! Input: chain rules, the pre-state root, the hash of the block before the chunk, the blocks
//! and a [`WitnessSources`]. Output: per block, the post-state root, the block hash and the
//! execution outcome. The caller decides what the numbers mean (a verdict, a witness).

use super::block::{
    BlockEnvInput, BlockOutcome, ExecError, InvalidTxPolicy, PreparedTx, execute_block,
};
use super::chain::ChainRules;
use super::db::{TrieDb, WitnessSources};
use super::fault::DbFault;
use super::tries::StateDiff;
use alloy_primitives::{B256, Bytes};
use revm::database::{State, states::bundle_state::BundleRetention};

/// A block's hash and the header bytes it is stored and proven under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub hash: B256,
    pub header: Bytes,
}

/// One block as the chunk runner, the replayer and the verifier see it. Implemented for
/// Ethereum blocks (conformance) and for L2 blocks (the rollup).
pub trait BlockSpec {
    fn number(&self) -> u64;
    /// The environment, given the hash of the block before.
    fn env(&self, parent_hash: B256) -> BlockEnvInput;
    fn txs(&self) -> &[PreparedTx];
    fn policy(&self) -> InvalidTxPolicy;
    /// Hash and header bytes once the post-state root and the outcome are known.
    fn seal(&self, parent_hash: B256, post_state_root: B256, outcome: &BlockOutcome) -> Sealed;
}

/// The result of one block of a chunk.
#[derive(Debug, Clone)]
pub struct ChunkStep {
    pub number: u64,
    pub post_state_root: B256,
    pub sealed: Sealed,
    pub outcome: BlockOutcome,
}

/// Executes `blocks` in order from `pre_state_root`. See the module documentation.
pub fn run_chunk<S: WitnessSources, B: BlockSpec>(
    rules: &ChainRules,
    pre_state_root: B256,
    parent_hash: B256,
    blocks: &[B],
    sources: &S,
) -> Result<Vec<ChunkStep>, ExecError> {
    let db = TrieDb::new(sources, pre_state_root);
    let mut state = State::builder().with_database(db).with_bundle_update().build();
    let mut parent = parent_hash;
    let mut steps = Vec::with_capacity(blocks.len());
    for block in blocks {
        let outcome =
            execute_block(rules, &block.env(parent), block.txs(), block.policy(), &mut state)?;
        state.merge_transitions(BundleRetention::PlainState);
        let diff = StateDiff::from_bundle(&state.take_bundle());
        let root = apply_diff(&mut state.database, sources, &diff)?;
        let sealed = block.seal(parent, root, &outcome);
        state.database.push_block_hash(block.number(), sealed.hash);
        parent = sealed.hash;
        steps.push(ChunkStep { number: block.number(), post_state_root: root, sealed, outcome });
    }
    Ok(steps)
}

fn apply_diff<S: WitnessSources>(
    db: &mut TrieDb<'_, S>,
    sources: &S,
    diff: &StateDiff,
) -> Result<B256, DbFault> {
    db.tries.apply(sources.nodes(), diff)
}
