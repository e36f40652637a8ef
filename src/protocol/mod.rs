//! Shared protocol types of the native rollup and their byte codecs.
//!
//! Input: values built by the pipeline, or bytes read from L1 (calldata, events, traces).
//! Output: the canonical encodings that the proposer, the L1 contracts, the EXECUTE
//! precompile and this challenger must agree on byte for byte:
//! - [`BlockInputs`]: one L2 block's inputs; `input_commitment = keccak256(encoding)`.
//! - [`L2Header`]: 160 bytes (Solidity `abi.encode` of five words); `block_hash = keccak256`.
//! - [`Checkpoint`]: per-block commitment of a batch (inputs, post-state root, gas used).
//! - [`batch_tree`]: the Merkle root of a batch's block hashes and a block's path to it.
//! - [`Trace`] / [`Witness`]: the EXECUTE trace: blocks plus a stateless witness.
//! - [`ExecuteCall`]: EXECUTE's ABI call input; [`execute_gas_cost`]: its up-front charge.
//!
//! Invariants: all integers big-endian and fixed width, no RLP in these layouts (the L1
//! contract slices them in Solidity). Every decoder is strict and total: it never panics,
//! rejects truncation, trailing bytes and non-canonical forms, so each value has exactly one
//! accepted encoding (`decode(b) == Ok(v)` implies `encode(v) == b`). Layout details and the
//! reasoning behind them: docs/protocol.md.

pub mod batch_tree;
mod block_inputs;
mod codec;
mod error;
mod execute;
mod header;
mod trace;

#[cfg(test)]
mod proptests;

pub use batch_tree::{CheckpointProof, Leaf, SegmentOrigin, checkpoints_root};
pub use block_inputs::{
    BLOCK_INPUTS_FIXED_LEN, BLOCK_INPUTS_GAS_LIMIT_OFFSET, BlockInputs, MAX_BLOCK_INPUT_BYTES,
    MAX_TXS_PER_BLOCK,
};
pub use error::ProtocolError;
pub use execute::{
    EXECUTE_BASE_GAS, EXECUTE_GAS_PER_TRACE_BYTE, EXECUTE_GAS_PER_TX, ExecuteCall, SEGMENT_GAS,
    decode_execute_output, encode_execute_output, execute_gas_cost,
};
pub use header::{CHECKPOINT_LEN, Checkpoint, Cut, L2_HEADER_LEN, L2Header};
pub use trace::{
    MAX_WITNESS_HEADERS, TRACE_BLOCKS_OFFSET, TRACE_SEGMENT_OFFSET, TRACE_VERSION, Trace,
    TraceSegment, Witness, block_input_ranges,
};
