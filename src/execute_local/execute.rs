//! The EXECUTE semantics over L2 traces, and building such traces from the state store.
//!
//! [`execute`] is what the EXECUTE precompile computes (docs/protocol.md, "EXECUTE input,
//! output and gas"): `Ok(true)` when the trace is well formed, its witness is sound and
//! complete, and executing its blocks from `pre_state_root` ends at `post_state_root` having
//! used exactly `gas_used` in total; `Ok(false)` when the witness is sound but the transition
//! differs; `Err` when the trace is malformed or the witness incomplete: the call fails and
//! proves nothing.

use super::chain::ChainRules;
use super::chunk::ChunkStep;
use super::l2::{L2Block, L2Headers};
use super::stateless::{VerifyError, verify_chunk};
use super::store::{StateStore, StoreError};
use super::witness::{RecordError, Witness, record_witness};
use crate::protocol::{ExecuteCall, L2Header, ProtocolError, Trace, Witness as TraceWitness};
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
pub fn verdict(
    rules: &ChainRules,
    call: &ExecuteCall,
    trace: &Trace,
) -> Result<bool, ExecuteError> {
    let steps = verify_trace(rules, call.pre_state_root, trace)?;
    let gas_used = steps.iter().try_fold(0u64, |sum, step| sum.checked_add(step.outcome.gas_used));
    let post_state_root = steps.last().map(|step| step.post_state_root);
    Ok(post_state_root == Some(call.post_state_root) && gas_used == Some(call.gas_used))
}

/// Executes a decoded trace statelessly from `pre_state_root`.
pub fn verify_trace(
    rules: &ChainRules,
    pre_state_root: alloy_primitives::B256,
    trace: &Trace,
) -> Result<Vec<ChunkStep>, ExecuteError> {
    let blocks = trace.blocks.iter().cloned().map(L2Block::new).collect::<Result<Vec<_>, _>>()?;
    let witness = witness_of(trace);
    Ok(verify_chunk::<_, L2Headers>(rules, pre_state_root, trace.parent_hash, &blocks, &witness)?)
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
    let trace = Trace {
        chain_id: rules.chain_id,
        parent_hash: head.hash,
        blocks: blocks.iter().map(|b| b.inputs.clone()).collect(),
        witness: TraceWitness { nodes: witness.nodes, codes: witness.codes, headers },
    };
    Ok((trace, steps))
}
