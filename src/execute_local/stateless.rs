//! Stateless verification: re-derive a chunk's post-state roots from a pre-state root, the
//! blocks and a witness alone.
//!
//! Steps:
//! 1. Check the witness is canonical: nodes and codes strictly ascending by keccak256 (so
//!    every item is keyed by its own hash and a duplicate or a reordering is an error).
//! 2. Check the ancestor headers form a chain that ends at the chunk's parent hash, and map
//!    block numbers to hashes from it ([`HeaderFormat`] decodes each chain's headers).
//! 3. Run the chunk over a [`TrieDb`](super::db::TrieDb) whose nodes come from the witness:
//!    the tries start as the single unresolved pre-state root, so every node used is checked
//!    against the hash its parent holds, up to the pre-state root.
//! 4. Require that every node, code and header of the witness was used: a foreign or
//!    superfluous item is an error, which keeps the witness minimal and non-malleable.
//!
//! A missing node, a code whose hash does not match, a malformed encoding: a typed
//! [`VerifyError`], never a panic and never a post-state root.

use super::block::{ExecError, SegmentStart};
use super::chain::ChainRules;
use super::chunk::{BlockSpec, ChunkStep, SegmentStep, run_chunk, run_segment};
use super::db::WitnessSources;
use super::fault::DbFault;
use super::trie::{MemNodes, RecordingSource};
use super::witness::Witness;
use alloy_primitives::{B256, Bytes, keccak256};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// Most ancestor headers a witness may carry (the BLOCKHASH window).
pub const MAX_ANCESTORS: usize = 256;

/// Why a witness could not be verified. None of these is a verdict about the chunk.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("witness {kind} are not strictly ascending by hash at index {index}")]
    NotCanonical { kind: &'static str, index: usize },
    #[error("witness carries an empty code at index {index}")]
    EmptyCode { index: usize },
    #[error("ancestor header {index} does not decode: {reason}")]
    MalformedHeader { index: usize, reason: String },
    #[error("ancestor headers break the chain at index {index}: {reason}")]
    BrokenAncestry { index: usize, reason: String },
    #[error("{count} ancestor headers exceed the limit of {MAX_ANCESTORS}")]
    TooManyAncestors { count: usize },
    #[error("witness {kind} {hash} was never used")]
    Unused { kind: &'static str, hash: B256 },
    #[error("witness headers start at {first}, but the oldest one needed is {oldest}")]
    UnusedHeaders { first: u64, oldest: u64 },
    #[error("no block to verify")]
    NoBlocks,
    #[error("the witness carries no parent header")]
    MissingParentHeader,
    #[error("the parent header's state root {header} is not the pre-state root {claimed}")]
    PreStateMismatch { header: B256, claimed: B256 },
    #[error("block {number} does not follow the parent header {parent}")]
    WrongBlockNumber { number: u64, parent: u64 },
    #[error(transparent)]
    Execution(#[from] ExecError),
}

impl VerifyError {
    /// The database fault behind the error, when execution stopped on missing witness data.
    pub fn fault(&self) -> Option<&DbFault> {
        match self {
            Self::Execution(ExecError::Database(fault)) => Some(fault),
            _ => None,
        }
    }
}

/// A chain's header format, as far as ancestry is concerned.
pub trait HeaderFormat {
    /// Number, parent hash, own hash and state root of an encoded header.
    fn link(bytes: &[u8]) -> Result<HeaderLink, String>;
}

/// What ancestry needs of a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderLink {
    pub number: u64,
    pub parent_hash: B256,
    pub hash: B256,
    pub state_root: B256,
}

/// Ancestor hashes proven by a witness, and the parent they end at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ancestry {
    pub hashes: BTreeMap<u64, B256>,
    pub parent: HeaderLink,
}

/// Checks the witness headers: a contiguous chain, oldest first, whose last header is the
/// chunk's parent (hash `parent_hash`, state root `pre_state_root`).
pub fn verify_ancestry<H: HeaderFormat>(
    headers: &[Bytes],
    parent_hash: B256,
    pre_state_root: B256,
) -> Result<Ancestry, VerifyError> {
    ancestry::<H>(headers, parent_hash, Some(pre_state_root))
}

/// [`verify_ancestry`]; the parent's state root is checked only when `pre_state_root` is given.
fn ancestry<H: HeaderFormat>(
    headers: &[Bytes],
    parent_hash: B256,
    pre_state_root: Option<B256>,
) -> Result<Ancestry, VerifyError> {
    if headers.len() > MAX_ANCESTORS {
        return Err(VerifyError::TooManyAncestors { count: headers.len() });
    }
    let mut hashes = BTreeMap::new();
    let mut previous: Option<HeaderLink> = None;
    for (index, bytes) in headers.iter().enumerate() {
        let link =
            H::link(bytes).map_err(|reason| VerifyError::MalformedHeader { index, reason })?;
        if let Some(prev) = previous
            && (link.parent_hash != prev.hash || Some(link.number) != prev.number.checked_add(1))
        {
            let reason = format!(
                "block {} does not follow block {} ({})",
                link.number, prev.number, prev.hash
            );
            return Err(VerifyError::BrokenAncestry { index, reason });
        }
        hashes.insert(link.number, link.hash);
        previous = Some(link);
    }
    let parent = previous.ok_or(VerifyError::MissingParentHeader)?;
    if parent.hash != parent_hash {
        let reason = format!(
            "last header {} hashes to {}, the chunk's parent is {parent_hash}",
            parent.number, parent.hash
        );
        return Err(VerifyError::BrokenAncestry { index: headers.len() - 1, reason });
    }
    if let Some(claimed) = pre_state_root
        && parent.state_root != claimed
    {
        return Err(VerifyError::PreStateMismatch { header: parent.state_root, claimed });
    }
    Ok(Ancestry { hashes, parent })
}

/// Sources over a witness that note what was used.
struct WitnessMaps<'a> {
    nodes: RecordingSource<'a, MemNodes>,
    codes: BTreeMap<B256, Bytes>,
    used_codes: RefCell<BTreeSet<B256>>,
    ancestors: BTreeMap<u64, B256>,
    used_numbers: RefCell<BTreeSet<u64>>,
}

impl<'a> WitnessSources for WitnessMaps<'a> {
    type Nodes = RecordingSource<'a, MemNodes>;

    fn nodes(&self) -> &Self::Nodes {
        &self.nodes
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, DbFault> {
        let code = self.codes.get(hash).cloned();
        if code.is_some() {
            self.used_codes.borrow_mut().insert(*hash);
        }
        Ok(code)
    }

    fn ancestor_hash(&self, number: u64) -> Result<Option<B256>, DbFault> {
        let hash = self.ancestors.get(&number).copied();
        if hash.is_some() {
            self.used_numbers.borrow_mut().insert(number);
        }
        Ok(hash)
    }
}

/// Verifies `blocks` from `pre_state_root` with `witness` alone. See the module docs.
pub fn verify_chunk<B: BlockSpec, H: HeaderFormat>(
    rules: &ChainRules,
    pre_state_root: B256,
    parent_hash: B256,
    blocks: &[B],
    witness: &Witness,
) -> Result<Vec<ChunkStep>, VerifyError> {
    if blocks.is_empty() {
        return Err(VerifyError::NoBlocks);
    }
    with_witness::<H, _>(witness, parent_hash, Some(pre_state_root), blocks, |maps| {
        run_chunk(rules, pre_state_root, parent_hash, blocks, maps)
    })
}

/// Verifies one segment of `block` from `pre_state_root` with `witness` alone
/// (docs/protocol.md, "Segments"). A block's first segment starts from the parent header's
/// state root, which the witness binds; a later one starts from the state after the previous
/// segment, which no header holds: the caller vouches for it (the rollup contract takes it
/// from the proposer's own checkpoint of that segment).
pub fn verify_segment<B: BlockSpec, H: HeaderFormat>(
    rules: &ChainRules,
    pre_state_root: B256,
    parent_hash: B256,
    block: &B,
    start: SegmentStart,
    witness: &Witness,
) -> Result<SegmentStep, VerifyError> {
    let bound = (start.index == 0).then_some(pre_state_root);
    with_witness::<H, _>(witness, parent_hash, bound, std::slice::from_ref(block), |maps| {
        run_segment(rules, pre_state_root, parent_hash, block, start, maps).map(|(step, _)| step)
    })
}

/// Checks the witness (canonical, headers a chain to `parent_hash`, the parent's state root
/// `bound` when given, `blocks` numbered after the parent), runs `run` over it, and requires
/// that every item was used.
fn with_witness<H: HeaderFormat, T>(
    witness: &Witness,
    parent_hash: B256,
    bound: Option<B256>,
    blocks: &[impl BlockSpec],
    run: impl FnOnce(&WitnessMaps<'_>) -> Result<T, ExecError>,
) -> Result<T, VerifyError> {
    let nodes = keyed("nodes", &witness.nodes)?;
    let codes = keyed("codes", &witness.codes)?;
    if let Some(index) = witness.codes.iter().position(|c| c.is_empty()) {
        return Err(VerifyError::EmptyCode { index });
    }
    let ancestry = ancestry::<H>(&witness.headers, parent_hash, bound)?;
    check_numbers(blocks, ancestry.parent.number)?;
    let first_header = ancestry.hashes.keys().next().copied().unwrap_or(ancestry.parent.number);
    let ancestors = ancestry.hashes;
    let node_map = MemNodes(nodes.into_iter().collect());
    let maps = WitnessMaps {
        nodes: RecordingSource::new(&node_map),
        codes,
        used_codes: RefCell::default(),
        ancestors,
        used_numbers: RefCell::default(),
    };
    let result = run(&maps)?;
    let WitnessMaps { nodes: recorder, codes, used_codes, used_numbers, .. } = maps;
    let used_nodes = recorder.into_recorded();
    if let Some(hash) = node_map.0.keys().find(|h| !used_nodes.contains_key(*h)) {
        return Err(VerifyError::Unused { kind: "node", hash: *hash });
    }
    let used_codes = used_codes.into_inner();
    if let Some(hash) = codes.keys().find(|h| !used_codes.contains(*h)) {
        return Err(VerifyError::Unused { kind: "code", hash: *hash });
    }
    // Needed: from the oldest hash BLOCKHASH asked for (never past the parent) to the parent.
    let oldest = used_numbers.into_inner().first().copied().unwrap_or(ancestry.parent.number);
    if oldest != first_header {
        return Err(VerifyError::UnusedHeaders { first: first_header, oldest });
    }
    Ok(result)
}

/// Blocks must continue the parent header's numbering, one by one.
fn check_numbers<B: BlockSpec>(blocks: &[B], parent: u64) -> Result<(), VerifyError> {
    for (offset, block) in (1u64..).zip(blocks) {
        if Some(block.number()) != parent.checked_add(offset) {
            return Err(VerifyError::WrongBlockNumber { number: block.number(), parent });
        }
    }
    Ok(())
}

/// Items keyed by their keccak256, requiring strictly ascending order.
fn keyed(kind: &'static str, items: &[Bytes]) -> Result<BTreeMap<B256, Bytes>, VerifyError> {
    let mut map = BTreeMap::new();
    let mut last: Option<B256> = None;
    for (index, item) in items.iter().enumerate() {
        let hash = keccak256(item);
        if last.is_some_and(|prev| prev >= hash) {
            return Err(VerifyError::NotCanonical { kind, index });
        }
        last = Some(hash);
        map.insert(hash, item.clone());
    }
    Ok(map)
}
