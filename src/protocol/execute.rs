//! The EXECUTE precompile's call input, output and up-front gas charge.
//!
//! Input: an [`ExecuteCall`] or its ABI bytes; an encoded trace for [`execute_gas_cost`].
//! Output: call input = Solidity `abi.encode(bytes32 pre_state_root, bytes32 post_state_root,
//! bytes trace, uint256 gas_used)`:
//!
//! ```text
//! 0x00 pre_state_root | 0x20 post_state_root | 0x40 offset = 0x80 | 0x60 gas_used
//! 0x80 trace length   | 0xa0 trace bytes, zero-padded to a multiple of 32
//! ```
//!
//! Return data: one 32-byte word, 1 = the transition is valid, 0 = well formed but it does
//! not match; a malformed or incomplete trace makes the call fail (no output).
//! Invariants: `abi_decode` accepts only what `abi_encode` produces (offset exactly 0x80,
//! zero padding, gas_used fits u64, nothing trailing), so one call has one encoding.

use super::block_inputs::{peek_gas_limit, peek_tx_count};
use super::codec::{Reader, word};
use super::{ProtocolError, trace::block_input_ranges};
use alloy_primitives::{B256, Bytes};
use serde::{Deserialize, Serialize};

/// Fixed part of the gas EXECUTE charges before doing any work.
pub const EXECUTE_BASE_GAS: u64 = 100_000;
/// Gas per byte of trace, charged up front (witness verification work scales with it).
pub const EXECUTE_GAS_PER_TRACE_BYTE: u64 = 4;
/// Gas per framed transaction (protocol v2): decoding, two hashes and sender recovery happen
/// whether or not the transaction is valid. ECRECOVER's 3,000 for the recovery, plus 2,000:
/// measured, a framed transaction costs EXECUTE 1.0 to 1.2 times an ECRECOVER call, which at
/// 3,000 let a block of minimal transactions buy CPU at L1's own price with no margin
/// (docs/benchmarks.md, "Pricing"; docs/protocol.md, "Gas").
pub const EXECUTE_GAS_PER_TX: u64 = 5_000;

const ABI_HEAD_LEN: usize = 0x80;
const ABI_BYTES_OFFSET: u64 = 0x80;

/// One EXECUTE call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecuteCall {
    pub pre_state_root: B256,
    pub post_state_root: B256,
    /// An encoded [`super::Trace`] (opaque here).
    pub trace: Bytes,
    pub gas_used: u64,
}

impl ExecuteCall {
    /// The ABI encoding (call data of the precompile).
    pub fn abi_encode(&self) -> Vec<u8> {
        let padded = self.trace.len().div_ceil(32).saturating_mul(32);
        let mut out = Vec::with_capacity(ABI_HEAD_LEN.saturating_add(32).saturating_add(padded));
        out.extend_from_slice(self.pre_state_root.as_slice());
        out.extend_from_slice(self.post_state_root.as_slice());
        out.extend_from_slice(&word(ABI_BYTES_OFFSET));
        out.extend_from_slice(&word(self.gas_used));
        // usize -> u64 is lossless on every supported target.
        out.extend_from_slice(&word(u64::try_from(self.trace.len()).unwrap_or(u64::MAX)));
        out.extend_from_slice(&self.trace);
        out.resize(out.len().saturating_add(padded.saturating_sub(self.trace.len())), 0);
        out
    }

    /// Strict ABI decode: the inverse of [`Self::abi_encode`], nothing else accepted.
    pub fn abi_decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(bytes, 0);
        let pre_state_root = r.b256("pre_state_root")?;
        let post_state_root = r.b256("post_state_root")?;
        let offset_word = r.b256("trace_offset")?;
        if offset_word != B256::from(word(ABI_BYTES_OFFSET)) {
            return Err(ProtocolError::AbiOffset { expected: ABI_HEAD_LEN, found: offset_word });
        }
        let gas_used = r.word_u64("gas_used")?;
        let len = r.word_u64("trace_length")?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let trace = Bytes::copy_from_slice(r.take(len, "trace")?);
        let pad_len = len.next_multiple_of(32).saturating_sub(len);
        let pad_start = r.offset();
        let padding = r.take(pad_len, "trace_padding")?;
        if let Some(i) = padding.iter().position(|b| *b != 0) {
            return Err(ProtocolError::AbiPadding { offset: pad_start.saturating_add(i) });
        }
        r.finish("execute_call")?;
        Ok(Self { pre_state_root, post_state_root, trace, gas_used })
    }

    /// Gas EXECUTE charges for this call before any work; see [`execute_gas_cost`].
    pub fn gas_cost(&self) -> Result<u64, ProtocolError> {
        execute_gas_cost(&self.trace)
    }
}

/// Most L2 gas one segment of a block may use: the L2 execution one EXECUTE call pays for per
/// block, and the L2's per-transaction gas cap (docs/protocol.md, "Segments").
pub const SEGMENT_GAS: u64 = 7_000_000;

/// `EXECUTE_BASE_GAS + Σ blocks' min(gas_limit, SEGMENT_GAS) + EXECUTE_GAS_PER_TX × Σ blocks' tx_count +
/// EXECUTE_GAS_PER_TRACE_BYTE × trace.len()`.
///
/// Reads only the trace's version, block framing and each block's `gas_limit` and `tx_count`
/// (bytes 68..76 and 116..120 of each `BlockInputs`); the witness is not decoded. Fails on a trace whose framing is
/// broken and on u64 overflow.
pub fn execute_gas_cost(trace: &[u8]) -> Result<u64, ProtocolError> {
    let mut total = u64::try_from(trace.len())
        .ok()
        .and_then(|n| n.checked_mul(EXECUTE_GAS_PER_TRACE_BYTE))
        .and_then(|n| n.checked_add(EXECUTE_BASE_GAS))
        .ok_or(ProtocolError::GasOverflow)?;
    for range in block_input_ranges(trace)? {
        let start = range.start;
        let block = trace.get(range).ok_or(ProtocolError::Truncated {
            what: "block_inputs",
            offset: start,
            needed: 0,
            remaining: 0,
        })?;
        let gas_limit = peek_gas_limit(block, start)?.min(SEGMENT_GAS);
        let txs = u64::from(peek_tx_count(block, start)?) * EXECUTE_GAS_PER_TX;
        total = total
            .checked_add(gas_limit)
            .and_then(|t| t.checked_add(txs))
            .ok_or(ProtocolError::GasOverflow)?;
    }
    Ok(total)
}

/// The 32-byte EXECUTE return word.
pub fn encode_execute_output(valid: bool) -> [u8; 32] {
    word(u64::from(valid))
}

/// Strict decode of EXECUTE's return data: exactly one word, 0 or 1.
pub fn decode_execute_output(bytes: &[u8]) -> Result<bool, ProtocolError> {
    let found = B256::try_from(bytes).map_err(|_| ProtocolError::BadLength {
        what: "execute_output",
        expected: 32,
        found: bytes.len(),
    })?;
    match found {
        w if w == B256::from(word(1)) => Ok(true),
        w if w == B256::ZERO => Ok(false),
        _ => Err(ProtocolError::InvalidOutput { found }),
    }
}
