//! Running a chunk of consecutive blocks against the tries: the shared core of witness
//! recording and stateless verification.
//!
//! Input: chain rules, the pre-state root, the hash of the block before the chunk, the blocks
//! and a [`WitnessSources`]. Output: per block, the post-state root, the block hash and the
//! execution outcome. The caller decides what the numbers mean (a verdict, a witness).

use super::block::{
    BlockEnvInput, BlockOutcome, ExecError, InvalidTxPolicy, PreparedTx, SegmentEnd, SegmentStart,
    execute_block, execute_segment,
};
use super::chain::ChainRules;
use super::db::{TrieDb, WitnessSources};
use super::meter::{Meter, MeterReport, base_trace_bytes};
use super::tries::{StateDiff, StateTries};
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
    /// Length of the block's encoded inputs as a trace carries them (what the witness meter
    /// charges for the block itself; only chains with a trace budget ask).
    fn encoded_len(&self) -> usize;
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
    /// The block's state changes.
    pub diff: StateDiff,
    /// The witness meter after this block, on chains with a trace budget: `trace_bytes` is
    /// the length of the minimal trace of the chunk up to here.
    pub meter: Option<MeterReport>,
}

/// The result of one segment of a block (docs/protocol.md, "Segments").
#[derive(Debug, Clone)]
pub struct SegmentStep {
    pub number: u64,
    pub start: SegmentStart,
    pub end: SegmentEnd,
    /// The state root after the segment (after the block's epilogue when it ended the block).
    pub post_state_root: B256,
    /// The block's hash and header, when the segment ended the block.
    pub sealed: Option<Sealed>,
    /// The segment's receipts and skipped transactions; `gas_used` is the block's up to the
    /// end of the segment.
    pub outcome: BlockOutcome,
    /// The segment's state changes.
    pub diff: StateDiff,
    /// The witness meter after the segment: `trace_bytes` is the length of its minimal trace.
    pub meter: Option<MeterReport>,
}

/// Executes one segment of `block` from `pre_state_root` (the state after the block's
/// previous segment, or after the previous block for its first), as its verifier does: a
/// fresh trie database and, on chains with a trace budget, a fresh meter, so what the segment
/// reads is exactly what its own trace must carry. Also hands back the tries.
pub fn run_segment<S: WitnessSources, B: BlockSpec>(
    rules: &ChainRules,
    pre_state_root: B256,
    parent_hash: B256,
    block: &B,
    start: SegmentStart,
    sources: &S,
) -> Result<(SegmentStep, StateTries), ExecError> {
    let mut db = TrieDb::new(sources, pre_state_root);
    if let Some(budget) = rules.trace_budget {
        let base = base_trace_bytes([block.encoded_len()]);
        db = db.with_meter(Meter::new(budget, base, block.number().saturating_sub(1)));
    }
    let mut state = State::builder().with_database(db).with_bundle_update().build();
    let env = block.env(parent_hash);
    let (outcome, end) =
        execute_segment(rules, &env, block.txs(), block.policy(), &mut state, start)?;
    state.merge_transitions(BundleRetention::PlainState);
    let diff = StateDiff::from_bundle(&state.take_bundle());
    let root = state.database.apply(&diff)?;
    let sealed = end.last.then(|| block.seal(parent_hash, root, &outcome));
    let meter = state.database.meter().map(Meter::report);
    let step = SegmentStep {
        number: block.number(),
        start,
        end,
        post_state_root: root,
        sealed,
        outcome,
        diff,
        meter,
    };
    Ok((step, state.database.tries))
}

/// Executes `blocks` in order from `pre_state_root`. See the module documentation.
pub fn run_chunk<S: WitnessSources, B: BlockSpec>(
    rules: &ChainRules,
    pre_state_root: B256,
    parent_hash: B256,
    blocks: &[B],
    sources: &S,
) -> Result<Vec<ChunkStep>, ExecError> {
    run_chunk_tries(rules, pre_state_root, parent_hash, blocks, sources).map(|(steps, _)| steps)
}

/// [`run_chunk`], also handing back the tries (whose new nodes stateful replay commits).
pub fn run_chunk_tries<S: WitnessSources, B: BlockSpec>(
    rules: &ChainRules,
    pre_state_root: B256,
    parent_hash: B256,
    blocks: &[B],
    sources: &S,
) -> Result<(Vec<ChunkStep>, StateTries), ExecError> {
    if rules.trace_budget.is_some() && blocks.len() > 1 {
        return Err(ExecError::ChunkTooLong { blocks: blocks.len() });
    }
    let mut db = TrieDb::new(sources, pre_state_root);
    if let (Some(budget), Some(first)) = (rules.trace_budget, blocks.first()) {
        let base = base_trace_bytes(blocks.iter().map(BlockSpec::encoded_len));
        db = db.with_meter(Meter::new(budget, base, first.number().saturating_sub(1)));
    }
    let mut state = State::builder().with_database(db).with_bundle_update().build();
    let mut parent = parent_hash;
    let mut steps = Vec::with_capacity(blocks.len());
    for block in blocks {
        let outcome =
            execute_block(rules, &block.env(parent), block.txs(), block.policy(), &mut state)?;
        state.merge_transitions(BundleRetention::PlainState);
        let diff = StateDiff::from_bundle(&state.take_bundle());
        let root = state.database.apply(&diff)?;
        let sealed = block.seal(parent, root, &outcome);
        state.database.push_block_hash(block.number(), sealed.hash);
        parent = sealed.hash;
        let meter = state.database.meter().map(Meter::report);
        steps.push(ChunkStep {
            number: block.number(),
            post_state_root: root,
            sealed,
            outcome,
            diff,
            meter,
        });
    }
    Ok((steps, state.database.tries))
}
