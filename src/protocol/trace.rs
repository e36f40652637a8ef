//! `Trace`: the byte string handed to EXECUTE: the blocks to run and the stateless witness.
//!
//! Input: a [`Trace`] value (encoding) or bytes (decoding).
//! Output: the one canonical encoding:
//!
//! ```text
//! offset 0   version       u8 = 0x02
//! offset 1   chain_id      u64
//! offset 9   parent_hash   32 bytes   L2 block hash of the block before blocks[0]
//! offset 41  segment       u16        the segment's position in its block
//! offset 43  start_tx      u32        its first transaction
//! offset 47  gas_before    u64        gas the block's earlier segments used
//! offset 55  end_tx        u32        where it ends (claimed; the STF checks it)
//! offset 59  block_count   u16        >= 1
//! offset 61  block_count × (len u32 | BlockInputs bytes)
//!            node_count    u32 | node_count × (len u32 | trie node RLP)   ascending keccak256
//!            code_count    u32 | code_count × (len u32 | bytecode)        ascending keccak256, non-empty
//!            header_count  u16 | header_count × 160-byte L2Header        oldest first, parent LAST
//! ```
//!
//! Invariants (decode errors, checked by the encoder too):
//! - nodes and codes are strictly ascending by keccak256 (sorted, no duplicates); codes are
//!   non-empty. The encoder sorts and dedups itself and drops empty codes.
//! - 1..=256 headers; `headers[i+1].parent_hash == headers[i].block_hash()`, numbers
//!   consecutive, and `headers.last().block_hash() == parent_hash`.
//! - nothing trailing. Hence decode is injective: one byte string per trace.
//!
//! Not checked here (the state transition function's job): that block numbers follow the
//! parent header, that transactions decode, that the witness suffices.

use super::codec::{Reader, check_max, put_prefixed, u32_len};
use super::{BlockInputs, L2_HEADER_LEN, L2Header, ProtocolError};
use alloy_primitives::{B256, Bytes, keccak256};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// The only trace version this code understands (2: with the segment fields).
pub const TRACE_VERSION: u8 = 0x02;
/// Most headers a witness may carry (the BLOCKHASH window).
pub const MAX_WITNESS_HEADERS: usize = 256;
/// Offset of the segment fields in an encoded trace.
pub const TRACE_SEGMENT_OFFSET: usize = 41;
/// Offset of the first block's length prefix in an encoded trace.
pub const TRACE_BLOCKS_OFFSET: usize = 61;

/// Which part of its block a trace proves: a segment (docs/protocol.md, "Segments"). The
/// codec checks nothing about these numbers; the state transition function does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSegment {
    /// Position of the segment in its block, from 0.
    pub index: u16,
    /// The first transaction the segment considers.
    pub start_tx: u32,
    /// Gas the block's earlier segments used.
    pub gas_before: u64,
    /// The first transaction the segment does not consider, as claimed by the trace (the
    /// block's transaction count for a segment that ends the block).
    pub end_tx: u32,
}

/// The stateless witness: trie nodes, bytecodes and recent headers (parent last).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Witness {
    pub nodes: Vec<Bytes>,
    pub codes: Vec<Bytes>,
    pub headers: Vec<L2Header>,
}

/// Blocks to execute from the parent's post-state, plus the witness to do it statelessly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    pub chain_id: u64,
    /// L2 block hash of the block before `blocks[0]`; the last witness header hashes to it.
    pub parent_hash: B256,
    pub segment: TraceSegment,
    pub blocks: Vec<BlockInputs>,
    pub witness: Witness,
}

impl Witness {
    /// The canonical form: nodes and codes sorted by keccak256, deduplicated, empty codes
    /// dropped. `Trace::decode(Trace::encode(t))` returns `t` with this witness.
    pub fn canonical(&self) -> Self {
        Self {
            nodes: by_hash(&self.nodes, false).into_iter().cloned().collect(),
            codes: by_hash(&self.codes, true).into_iter().cloned().collect(),
            headers: self.headers.clone(),
        }
    }
}

/// Items sorted by keccak256 with duplicates (and, if asked, empty items) removed.
fn by_hash(items: &[Bytes], drop_empty: bool) -> Vec<&Bytes> {
    let mut keyed: Vec<(B256, &Bytes)> =
        items.iter().filter(|b| !(drop_empty && b.is_empty())).map(|b| (keccak256(b), b)).collect();
    keyed.sort_by_key(|(hash, _)| *hash);
    keyed.dedup_by(|a, b| a.0 == b.0);
    keyed.into_iter().map(|(_, b)| b).collect()
}

/// Checks the header chain rules; shared by encoder and decoder.
fn check_headers(headers: &[L2Header], parent_hash: B256) -> Result<(), ProtocolError> {
    check_max(headers.len(), MAX_WITNESS_HEADERS, "header_count")?;
    let last = headers.last().ok_or(ProtocolError::NoHeaders)?;
    for (index, pair) in headers.windows(2).enumerate().map(|(i, p)| (i + 1, p)) {
        let [prev, next] = pair else { continue };
        let expected = prev.block_hash();
        if next.parent_hash != expected {
            return Err(ProtocolError::HeaderParentMismatch {
                index,
                expected,
                found: next.parent_hash,
            });
        }
        let expected = prev.number.checked_add(1).ok_or(ProtocolError::HeaderNumberGap {
            index,
            expected: u64::MAX,
            found: next.number,
        })?;
        if next.number != expected {
            return Err(ProtocolError::HeaderNumberGap { index, expected, found: next.number });
        }
    }
    let found = last.block_hash();
    if found != parent_hash {
        return Err(ProtocolError::ParentHashMismatch { expected: parent_hash, found });
    }
    Ok(())
}

impl Trace {
    /// The canonical encoding (witness sorted and deduplicated here).
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        if self.blocks.is_empty() {
            return Err(ProtocolError::NoBlocks);
        }
        let block_count =
            u16::try_from(self.blocks.len()).map_err(|_| ProtocolError::TooLarge {
                what: "block_count",
                found: self.blocks.len(),
                max: usize::from(u16::MAX),
            })?;
        check_headers(&self.witness.headers, self.parent_hash)?;
        let mut out = vec![TRACE_VERSION];
        out.extend_from_slice(&self.chain_id.to_be_bytes());
        out.extend_from_slice(self.parent_hash.as_slice());
        out.extend_from_slice(&self.segment.index.to_be_bytes());
        out.extend_from_slice(&self.segment.start_tx.to_be_bytes());
        out.extend_from_slice(&self.segment.gas_before.to_be_bytes());
        out.extend_from_slice(&self.segment.end_tx.to_be_bytes());
        out.extend_from_slice(&block_count.to_be_bytes());
        for block in &self.blocks {
            put_prefixed(&mut out, &block.encode()?, "block_inputs")?;
        }
        put_list(&mut out, &by_hash(&self.witness.nodes, false), "node")?;
        put_list(&mut out, &by_hash(&self.witness.codes, true), "code")?;
        // check_headers bounded the count by 256, so it fits u16.
        let header_count = u16::try_from(self.witness.headers.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&header_count.to_be_bytes());
        for header in &self.witness.headers {
            out.extend_from_slice(&header.encode());
        }
        Ok(out)
    }

    /// `keccak256(encode())`.
    pub fn hash(&self) -> Result<B256, ProtocolError> {
        Ok(keccak256(self.encode()?))
    }

    /// Strict decode; see the module doc for every rule enforced.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(bytes, 0);
        let version = r.u8("version")?;
        if version != TRACE_VERSION {
            return Err(ProtocolError::UnsupportedVersion {
                expected: TRACE_VERSION,
                found: version,
            });
        }
        let chain_id = r.u64("chain_id")?;
        let parent_hash = r.b256("parent_hash")?;
        let segment = TraceSegment {
            index: r.u16("segment")?,
            start_tx: r.u32("start_tx")?,
            gas_before: r.u64("gas_before")?,
            end_tx: r.u32("end_tx")?,
        };
        let blocks = decode_blocks(&mut r)?;
        let nodes = decode_sorted(&mut r, "node", false)?;
        let codes = decode_sorted(&mut r, "code", true)?;
        let headers = decode_headers(&mut r)?;
        r.finish("trace")?;
        check_headers(&headers, parent_hash)?;
        Ok(Self {
            chain_id,
            parent_hash,
            segment,
            blocks,
            witness: Witness { nodes, codes, headers },
        })
    }

    /// Byte ranges of each encoded `BlockInputs` inside `self.encode()` (payload only, without
    /// the 4-byte length prefix): `keccak256(trace[range]) == blocks[i].commitment()`.
    /// The first range starts at `TRACE_BLOCKS_OFFSET + 4` = 65.
    pub fn block_input_ranges(&self) -> Vec<Range<usize>> {
        let mut start = TRACE_BLOCKS_OFFSET;
        let mut out = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let payload = start.saturating_add(4);
            let end = payload.saturating_add(block.encoded_len());
            out.push(payload..end);
            start = end;
        }
        out
    }
}

/// Appends `count u32 | count × (len u32 | item)`.
fn put_list(out: &mut Vec<u8>, items: &[&Bytes], what: &'static str) -> Result<(), ProtocolError> {
    out.extend_from_slice(&u32_len(items.len(), what)?.to_be_bytes());
    for item in items {
        put_prefixed(out, item, what)?;
    }
    Ok(())
}

fn decode_blocks(r: &mut Reader<'_>) -> Result<Vec<BlockInputs>, ProtocolError> {
    let count = r.u16("block_count")?;
    if count == 0 {
        return Err(ProtocolError::NoBlocks);
    }
    let mut blocks = Vec::with_capacity(usize::from(count).min(r.remaining() / 4));
    for _ in 0..count {
        let (bytes, start) = r.prefixed("block_inputs")?;
        blocks.push(BlockInputs::decode_at(bytes, start)?);
    }
    Ok(blocks)
}

/// Reads `count u32 | items`, requiring strictly ascending keccak256 (and non-empty codes).
fn decode_sorted(
    r: &mut Reader<'_>,
    what: &'static str,
    reject_empty: bool,
) -> Result<Vec<Bytes>, ProtocolError> {
    let count = r.u32(what)?;
    let cap = usize::try_from(count).unwrap_or(usize::MAX).min(r.remaining() / 4);
    let mut items = Vec::with_capacity(cap);
    let mut prev: Option<B256> = None;
    for index in 0..usize::try_from(count).unwrap_or(usize::MAX) {
        let offset = r.offset();
        let (bytes, _) = r.prefixed(what)?;
        if reject_empty && bytes.is_empty() {
            return Err(ProtocolError::EmptyCode { index, offset });
        }
        let hash = keccak256(bytes);
        match prev.map(|p| p.cmp(&hash)) {
            Some(std::cmp::Ordering::Equal) => {
                return Err(ProtocolError::Duplicate { what, index, offset });
            }
            Some(std::cmp::Ordering::Greater) => {
                return Err(ProtocolError::Unsorted { what, index, offset });
            }
            _ => prev = Some(hash),
        }
        items.push(Bytes::copy_from_slice(bytes));
    }
    Ok(items)
}

fn decode_headers(r: &mut Reader<'_>) -> Result<Vec<L2Header>, ProtocolError> {
    let count = usize::from(r.u16("header_count")?);
    check_max(count, MAX_WITNESS_HEADERS, "header_count")?;
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let start = r.offset();
        headers.push(L2Header::decode_at(r.take(L2_HEADER_LEN, "l2_header")?, start)?);
    }
    Ok(headers)
}

/// Scans an encoded trace's version and block framing only (not the blocks' contents, not
/// the witness) and returns each `BlockInputs` payload range. This is what the L1 contract
/// does to bind a trace's blocks to a proposal: `keccak256(trace[range_i])` per block.
pub fn block_input_ranges(trace: &[u8]) -> Result<Vec<Range<usize>>, ProtocolError> {
    let mut r = Reader::new(trace, 0);
    let version = r.u8("version")?;
    if version != TRACE_VERSION {
        return Err(ProtocolError::UnsupportedVersion { expected: TRACE_VERSION, found: version });
    }
    // Chain id, parent hash and the segment fields: up to `block_count`, 2 bytes before the
    // first block.
    r.take(TRACE_BLOCKS_OFFSET - 1 - 2, "trace_prefix")?;
    let count = r.u16("block_count")?;
    if count == 0 {
        return Err(ProtocolError::NoBlocks);
    }
    let mut out = Vec::with_capacity(usize::from(count).min(r.remaining() / 4));
    for _ in 0..count {
        let (bytes, start) = r.prefixed("block_inputs")?;
        out.push(start..start.saturating_add(bytes.len()));
    }
    Ok(out)
}
