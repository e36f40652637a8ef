//! The EXECUTE semantics over L2 traces, and building such traces from the state store.
//!
//! [`execute`] is what the EXECUTE precompile computes (docs/protocol.md, "EXECUTE input,
//! output and gas"): `Ok(true)` when the trace is well formed, its witness is sound and
//! complete, and executing its blocks from `pre_state_root` ends at `post_state_root` having
//! used exactly `gas_used` in total; `Ok(false)` when the witness is sound but the transition
//! differs; `Err` when the trace is malformed or the witness incomplete: the call fails and
//! proves nothing.

use super::block::{SegmentEnd, SegmentStart};
use super::chain::ChainRules;
use super::chunk::{ChunkStep, SegmentStep};
use super::l2::{L2Block, L2Headers, stored_header};
use super::segments::{RecordedSegment, SegmentError, record_segment};
use super::stateless::{VerifyError, verify_chunk, verify_segment};
use super::store::{StateStore, StoreError};
use super::witness::{RecordError, ReplaySources, Witness, record_witness};
use crate::protocol::{
    ExecuteCall, L2Header, ProtocolError, Trace, TraceSegment, Witness as TraceWitness,
};
use alloy_primitives::Bytes;

/// Why EXECUTE fails (the call reverts; nothing is proven).
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error("malformed trace: {0}")]
    Malformed(#[from] ProtocolError),
    #[error("trace is for chain {found}, this EXECUTE serves chain {expected}")]
    WrongChain { expected: u64, found: u64 },
    #[error("witness: {0}")]
    Witness(#[from] VerifyError),
}

/// The EXECUTE verdict. See the module documentation.
pub fn execute(rules: &ChainRules, call: &ExecuteCall) -> Result<bool, ExecuteError> {
    let trace = Trace::decode(&call.trace)?;
    if trace.chain_id != rules.chain_id {
        return Err(ExecuteError::WrongChain { expected: rules.chain_id, found: trace.chain_id });
    }
    verdict(rules, call, &trace)
}

/// The verdict for a call whose trace is already decoded; the chain id is not checked here
/// (the EXECUTE precompile runs every trace under the chain id it names).
///
/// Valid means: the trace's segment, run from `pre_state_root`, ends where the trace says
/// (`end_tx`) at `post_state_root` with the block's gas at `gas_used` (earlier segments
/// included). For a trace of several blocks (chains without a witness budget only) the
/// blocks run whole and `gas_used` is their total.
pub fn verdict(
    rules: &ChainRules,
    call: &ExecuteCall,
    trace: &Trace,
) -> Result<bool, ExecuteError> {
    let steps = verify_trace(rules, call.pre_state_root, trace)?;
    let gas_used = if trace.blocks.len() == 1 {
        steps.last().map(|step| step.outcome.gas_used)
    } else {
        steps.iter().try_fold(0u64, |sum, step| sum.checked_add(step.outcome.gas_used))
    };
    let last = steps.last();
    Ok(last.map(|step| step.post_state_root) == Some(call.post_state_root)
        && last.map(|step| step.end.end_tx) == Some(trace.segment.end_tx)
        && gas_used == Some(call.gas_used))
}

/// Executes a decoded trace statelessly from `pre_state_root`: its one block's segment, or
/// (chains without a witness budget) its blocks whole, the first segment of each.
pub fn verify_trace(
    rules: &ChainRules,
    pre_state_root: alloy_primitives::B256,
    trace: &Trace,
) -> Result<Vec<SegmentStep>, ExecuteError> {
    let blocks = trace.blocks.iter().cloned().map(L2Block::new).collect::<Result<Vec<_>, _>>()?;
    let witness = witness_of(trace);
    if let [block] = blocks.as_slice() {
        let start = SegmentStart {
            index: trace.segment.index,
            start_tx: trace.segment.start_tx,
            gas_before: trace.segment.gas_before,
        };
        let step = verify_segment::<_, L2Headers>(
            rules,
            pre_state_root,
            trace.parent_hash,
            block,
            start,
            &witness,
        )?;
        return Ok(vec![step]);
    }
    if trace.segment != TraceSegment::default() {
        return Ok(Vec::new());
    }
    let steps =
        verify_chunk::<_, L2Headers>(rules, pre_state_root, trace.parent_hash, &blocks, &witness)?;
    Ok(steps.into_iter().map(whole_block).collect())
}

/// A block run whole, as the segment that starts and ends it. On chains without a witness
/// budget the trace's `end_tx` is 0 for a chunk of several blocks (its segment fields are all
/// zero), so the verdict's `end_tx` check compares with 0 there.
fn whole_block(step: ChunkStep) -> SegmentStep {
    SegmentStep {
        number: step.number,
        start: SegmentStart::FIRST,
        end: SegmentEnd { end_tx: 0, gas_used: step.outcome.gas_used, last: true },
        post_state_root: step.post_state_root,
        sealed: Some(step.sealed),
        outcome: step.outcome,
        diff: step.diff,
        meter: step.meter,
    }
}

/// The trace's witness in the verifier's form (headers as their 160-byte encodings).
pub fn witness_of(trace: &Trace) -> Witness {
    Witness {
        nodes: trace.witness.nodes.clone(),
        codes: trace.witness.codes.clone(),
        headers: trace
            .witness
            .headers
            .iter()
            .map(|h| Bytes::copy_from_slice(&h.encode()))
            .collect(),
    }
}

/// Why a trace could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TraceBuildError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored header is not an L2 header: {0}")]
    Header(ProtocolError),
    #[error(transparent)]
    Encode(#[from] ProtocolError),
    /// Boxed: it carries an execution error, which would double the size of every error
    /// that carries this one.
    #[error(transparent)]
    Segment(Box<SegmentError>),
}

impl From<SegmentError> for TraceBuildError {
    fn from(err: SegmentError) -> Self {
        Self::Segment(Box::new(err))
    }
}

/// Records the trace of `blocks` executed on top of the store's head.
pub fn record_trace(
    store: &StateStore,
    rules: &ChainRules,
    blocks: &[L2Block],
) -> Result<(Trace, Vec<ChunkStep>), TraceBuildError> {
    let head = store.head()?.ok_or(StoreError::Uninitialised)?;
    let (witness, steps) = record_witness(store, rules, blocks)?;
    let headers = witness
        .headers
        .iter()
        .map(|h| L2Header::decode(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(TraceBuildError::Header)?;
    // One block runs as its first segment, which ends it while blocks are one segment; several
    // blocks (chains without a witness budget) carry zero segment fields.
    let segment = match blocks {
        [block] => TraceSegment {
            end_tx: u32::try_from(block.inputs.transactions.len()).unwrap_or(u32::MAX),
            ..TraceSegment::default()
        },
        _ => TraceSegment::default(),
    };
    let trace = Trace {
        chain_id: rules.chain_id,
        parent_hash: head.hash,
        segment,
        blocks: blocks.iter().map(|b| b.inputs.clone()).collect(),
        witness: TraceWitness { nodes: witness.nodes, codes: witness.codes, headers },
    };
    Ok((trace, steps))
}

/// Records the trace of segment `index` of `block`, executed on top of the store's head
/// (docs/protocol.md, "Segments"): the segments before it run first, and the trace starts
/// from the state the previous one ended at, which the returned step's caller proves with the
/// proposal's own cut. The trace's `end_tx` is where the segment really ends.
pub fn record_segment_trace(
    store: &StateStore,
    rules: &ChainRules,
    block: &L2Block,
    index: u16,
) -> Result<(Trace, RecordedSegment), TraceBuildError> {
    let head = store.head()?.ok_or(StoreError::Uninitialised)?;
    let sources = ReplaySources::new(store, head.number);
    let recorded = record_segment(rules, head.state_root, head.hash, block, &sources, index)?;
    // Contiguous from the oldest hash BLOCKHASH used (or the parent) up to the parent, which
    // binds the numbering (and, for a block's first segment, the pre-state root).
    let oldest = recorded.recorded.numbers.first().copied().unwrap_or(head.number).min(head.number);
    let headers = (oldest..=head.number)
        .map(|n| match stored_header(store, n)? {
            Some(header) => Ok(header),
            None => Err(TraceBuildError::Record(RecordError::MissingHeader { number: n })),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let step = &recorded.step;
    let trace = Trace {
        chain_id: rules.chain_id,
        parent_hash: head.hash,
        segment: TraceSegment {
            index: step.start.index,
            start_tx: step.start.start_tx,
            gas_before: step.start.gas_before,
            end_tx: step.end.end_tx,
        },
        blocks: vec![block.inputs.clone()],
        witness: TraceWitness {
            nodes: recorded.recorded.nodes.clone(),
            codes: recorded.recorded.codes.clone(),
            headers,
        },
    };
    Ok((trace, recorded))
}
