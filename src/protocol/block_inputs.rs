//! `BlockInputs`: everything the proposer commits to for one L2 block, and its commitment.
//!
//! Input: the fields below, or their encoding (from L1 calldata or a trace).
//! Output: the canonical encoding and `input_commitment = keccak256(encoding)`.
//! Layout (big-endian, fixed width, 120-byte fixed part, then the transactions):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0   | 8  | number |
//! | 8   | 8  | timestamp |
//! | 16  | 20 | fee_recipient |
//! | 36  | 32 | prev_randao |
//! | 68  | 8  | gas_limit |
//! | 76  | 8  | base_fee (wei per gas) |
//! | 84  | 32 | l1_anchor (an L1 block hash, given to the L2 as the EIP-4788 root) |
//! | 116 | 4  | tx_count |
//! | 120 | .. | tx_count × (len u32, raw EIP-2718 tx bytes) |
//!
//! Invariants: decoding is strict (no truncation, no trailing bytes), so encoding is a
//! bijection between values and accepted byte strings. Transaction bytes are opaque here:
//! they may not decode as transactions (what happens to those is the STF's business).

use super::ProtocolError;
use super::codec::{Reader, put_prefixed, u32_len};
use alloy_primitives::{Address, B256, Bytes, keccak256};
use serde::{Deserialize, Serialize};

/// Byte offset of `gas_limit` inside an encoded `BlockInputs`.
pub const BLOCK_INPUTS_GAS_LIMIT_OFFSET: usize = 68;
/// Size of the fixed part (everything before the first transaction).
pub const BLOCK_INPUTS_FIXED_LEN: usize = 120;

/// One L2 block's inputs as posted by the proposer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockInputs {
    pub number: u64,
    pub timestamp: u64,
    pub fee_recipient: Address,
    pub prev_randao: B256,
    pub gas_limit: u64,
    /// Base fee per gas, in wei.
    pub base_fee: u64,
    /// An L1 block hash, delivered to the L2 as the EIP-4788 parent beacon block root.
    pub l1_anchor: B256,
    /// Raw EIP-2718 transaction bytes, in block order; opaque to this codec.
    pub transactions: Vec<Bytes>,
}

impl BlockInputs {
    /// Length of the encoding (saturating; only `encode` checks the prefix limits).
    pub fn encoded_len(&self) -> usize {
        self.transactions
            .iter()
            .fold(BLOCK_INPUTS_FIXED_LEN, |acc, tx| acc.saturating_add(4).saturating_add(tx.len()))
    }

    /// Appends the encoding to `out`. Fails only if a count or length exceeds u32.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        let tx_count = u32_len(self.transactions.len(), "tx_count")?;
        out.reserve(self.encoded_len());
        out.extend_from_slice(&self.number.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(self.fee_recipient.as_slice());
        out.extend_from_slice(self.prev_randao.as_slice());
        out.extend_from_slice(&self.gas_limit.to_be_bytes());
        out.extend_from_slice(&self.base_fee.to_be_bytes());
        out.extend_from_slice(self.l1_anchor.as_slice());
        out.extend_from_slice(&tx_count.to_be_bytes());
        for tx in &self.transactions {
            put_prefixed(out, tx, "transaction")?;
        }
        Ok(())
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// `keccak256(encode())`: what the proposer commits to and the L2 header carries.
    pub fn commitment(&self) -> Result<B256, ProtocolError> {
        Ok(keccak256(self.encode()?))
    }

    /// Strict decode of exactly one `BlockInputs` filling all of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        Self::decode_at(bytes, 0)
    }

    /// As [`Self::decode`]; `base` is the offset of `bytes` in an outer buffer (for errors).
    pub(crate) fn decode_at(bytes: &[u8], base: usize) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(bytes, base);
        let mut inputs = Self {
            number: r.u64("number")?,
            timestamp: r.u64("timestamp")?,
            fee_recipient: r.address("fee_recipient")?,
            prev_randao: r.b256("prev_randao")?,
            gas_limit: r.u64("gas_limit")?,
            base_fee: r.u64("base_fee")?,
            l1_anchor: r.b256("l1_anchor")?,
            transactions: Vec::new(),
        };
        let tx_count = r.u32("tx_count")?;
        // Each transaction takes at least its 4-byte prefix: cap the allocation by what remains.
        let cap = usize::try_from(tx_count).unwrap_or(usize::MAX).min(r.remaining() / 4);
        inputs.transactions.reserve_exact(cap);
        for _ in 0..tx_count {
            let (tx, _) = r.prefixed("transaction")?;
            inputs.transactions.push(Bytes::copy_from_slice(tx));
        }
        r.finish("block_inputs")?;
        Ok(inputs)
    }
}

/// Reads `gas_limit` from an encoded `BlockInputs` without decoding the rest.
pub(crate) fn peek_gas_limit(bytes: &[u8], base: usize) -> Result<u64, ProtocolError> {
    let mut r = Reader::new(bytes, base);
    r.take(BLOCK_INPUTS_GAS_LIMIT_OFFSET, "block_inputs")?;
    r.u64("gas_limit")
}

/// Protocol v2: the largest encoded block inputs `propose` accepts (the rollup contract's
/// `MAX_BLOCK_INPUT_BYTES`; docs/protocol.md, "Witness budget").
pub const MAX_BLOCK_INPUT_BYTES: usize = 65_536;

/// Protocol v2: the most transactions one block may frame (the contract's
/// `MAX_TXS_PER_BLOCK`), which bounds EXECUTE's per-transaction charge.
pub const MAX_TXS_PER_BLOCK: u32 = 1_024;

/// Offset of `tx_count` in encoded block inputs.
pub const BLOCK_INPUTS_TX_COUNT_OFFSET: usize = 116;

/// The `tx_count` field of encoded block inputs, without parsing the transactions.
pub(crate) fn peek_tx_count(bytes: &[u8], base: usize) -> Result<u32, ProtocolError> {
    let mut r = Reader::new(bytes, base);
    r.take(BLOCK_INPUTS_TX_COUNT_OFFSET, "block_inputs")?;
    r.u32("tx_count")
}
