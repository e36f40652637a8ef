//! `L2Header` (the L2 block header and block hash) and `Checkpoint` (what a batch commits
//! per block).
//!
//! Input: the fields, or their fixed-size encodings.
//! Output: `L2Header` = 160 bytes, the same as Solidity
//! `abi.encode(bytes32 parent_hash, uint256 number, bytes32 input_commitment,
//! bytes32 state_root, uint256 gas_used)`, and `block_hash = keccak256(those bytes)`;
//! `Checkpoint` = 96 bytes, `abi.encode(bytes32 input_commitment, bytes32 post_state_root,
//! uint256 gas_used)`, and `checkpoint.hash() = keccak256(those bytes)`.
//! Invariants: decoding rejects any other length and any uint256 word above u64::MAX, so each
//! value has exactly one accepted encoding.

use super::ProtocolError;
use super::codec::{Reader, word};
use alloy_primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};

/// Encoded size of an [`L2Header`].
pub const L2_HEADER_LEN: usize = 160;
/// Encoded size of a [`Checkpoint`].
pub const CHECKPOINT_LEN: usize = 96;

/// The L2 block header: a hash chain over (inputs, post-state, gas used).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L2Header {
    pub parent_hash: B256,
    pub number: u64,
    /// `keccak256` of this block's encoded [`super::BlockInputs`]; zero for genesis.
    pub input_commitment: B256,
    /// State root after executing this block.
    pub state_root: B256,
    pub gas_used: u64,
}

impl L2Header {
    /// The genesis header: everything zero except the genesis state root.
    pub fn genesis(state_root: B256) -> Self {
        Self { state_root, ..Self::default() }
    }

    /// The 160-byte encoding.
    pub fn encode(&self) -> [u8; L2_HEADER_LEN] {
        let mut out = [0u8; L2_HEADER_LEN];
        let words = [
            self.parent_hash.0,
            word(self.number),
            self.input_commitment.0,
            self.state_root.0,
            word(self.gas_used),
        ];
        for (chunk, w) in out.chunks_exact_mut(32).zip(words.iter()) {
            chunk.copy_from_slice(w);
        }
        out
    }

    /// `keccak256(encode())`.
    pub fn block_hash(&self) -> B256 {
        keccak256(self.encode())
    }

    /// Strict decode of exactly 160 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        Self::decode_at(bytes, 0)
    }

    pub(crate) fn decode_at(bytes: &[u8], base: usize) -> Result<Self, ProtocolError> {
        if bytes.len() != L2_HEADER_LEN {
            return Err(ProtocolError::BadLength {
                what: "l2_header",
                expected: L2_HEADER_LEN,
                found: bytes.len(),
            });
        }
        let mut r = Reader::new(bytes, base);
        Ok(Self {
            parent_hash: r.b256("parent_hash")?,
            number: r.word_u64("number")?,
            input_commitment: r.b256("input_commitment")?,
            state_root: r.b256("state_root")?,
            gas_used: r.word_u64("gas_used")?,
        })
    }
}

/// What a batch commits per L2 block: enough to point at the first divergent block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub input_commitment: B256,
    pub post_state_root: B256,
    pub gas_used: u64,
}

impl Checkpoint {
    /// The checkpoint a header implies.
    pub fn of_header(header: &L2Header) -> Self {
        Self {
            input_commitment: header.input_commitment,
            post_state_root: header.state_root,
            gas_used: header.gas_used,
        }
    }

    /// The 96-byte encoding.
    pub fn encode(&self) -> [u8; CHECKPOINT_LEN] {
        let mut out = [0u8; CHECKPOINT_LEN];
        let words = [self.input_commitment.0, self.post_state_root.0, word(self.gas_used)];
        for (chunk, w) in out.chunks_exact_mut(32).zip(words.iter()) {
            chunk.copy_from_slice(w);
        }
        out
    }

    /// `keccak256(encode())`.
    pub fn hash(&self) -> B256 {
        keccak256(self.encode())
    }

    /// Strict decode of exactly 96 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        if bytes.len() != CHECKPOINT_LEN {
            return Err(ProtocolError::BadLength {
                what: "checkpoint",
                expected: CHECKPOINT_LEN,
                found: bytes.len(),
            });
        }
        let mut r = Reader::new(bytes, 0);
        Ok(Self {
            input_commitment: r.b256("input_commitment")?,
            post_state_root: r.b256("post_state_root")?,
            gas_used: r.word_u64("gas_used")?,
        })
    }
}

/// The state after one segment of a block that does not end it (docs/protocol.md,
/// "Segments"): a batch commits one per such segment, besides the block's checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cut {
    /// The first transaction the segment did not consider.
    pub end_tx: u32,
    /// The state root after the segment.
    pub state_root: B256,
    /// The block's gas used up to the end of the segment.
    pub gas_used: u64,
}
