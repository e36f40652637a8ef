//! Witness recording: the minimal witness of a block or chunk, taken from the state store.
//!
//! Input: a [`StateStore`] whose head is the block before the chunk, the chain rules and the
//! blocks. Output: a [`Witness`]: every trie node resolved while executing the chunk and
//! computing its post-state roots (including the sibling a removal needs when a branch
//! collapses), every code loaded, and the contiguous run of ancestor headers from the oldest
//! one BLOCKHASH asked for up to the parent; nodes and codes sorted by their keccak256 hash,
//! headers oldest first (parent LAST, as in execution-specs).
//!
//! The recording runs the very code stateless verification runs ([`run_chunk`] over a
//! [`TrieDb`](super::db::TrieDb)), only with sources that read the store and take notes, so
//! the witness holds exactly what verification will ask for: nothing missing, nothing extra.

use super::block::ExecError;
use super::chain::ChainRules;
use super::chunk::{BlockSpec, ChunkStep, run_chunk};
use super::db::WitnessSources;
use super::fault::DbFault;
use super::store::{Head, StateStore, StoreError};
use super::trie::RecordingSource;
use alloy_primitives::{B256, Bytes};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// The data a stateless verifier needs besides the blocks. Canonical: nodes and codes
/// strictly ascending by keccak256, headers oldest first ending with the parent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Witness {
    pub nodes: Vec<Bytes>,
    pub codes: Vec<Bytes>,
    pub headers: Vec<Bytes>,
}

impl Witness {
    /// Total bytes of nodes, codes and headers.
    pub fn byte_size(&self) -> usize {
        [&self.nodes, &self.codes, &self.headers]
            .iter()
            .flat_map(|v| v.iter())
            .map(|b| b.len())
            .sum()
    }
}

/// Errors while recording a witness.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("ancestor header {number} is not in the store")]
    MissingHeader { number: u64 },
}

/// Sources over the store that note everything they hand out, for witness recording.
pub(crate) struct StoreSources<'a> {
    store: &'a StateStore,
    nodes: RecordingSource<'a, StateStore>,
    codes: RefCell<BTreeMap<B256, Bytes>>,
    numbers: RefCell<BTreeSet<u64>>,
    parent: u64,
}

impl<'a> WitnessSources for StoreSources<'a> {
    type Nodes = RecordingSource<'a, StateStore>;

    fn nodes(&self) -> &Self::Nodes {
        &self.nodes
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, DbFault> {
        let code = store_code(self.store, hash)?;
        if let Some(code) = &code {
            self.codes.borrow_mut().insert(*hash, code.clone());
        }
        Ok(code)
    }

    fn ancestor_hash(&self, number: u64) -> Result<Option<B256>, DbFault> {
        let hash = store_ancestor_hash(self.store, self.parent, number)?;
        if hash.is_some() {
            self.numbers.borrow_mut().insert(number);
        }
        Ok(hash)
    }
}

impl<'a> StoreSources<'a> {
    /// Sources for executing on top of block `parent` of the store.
    pub(crate) fn new(store: &'a StateStore, parent: u64) -> Self {
        Self {
            store,
            nodes: RecordingSource::new(store),
            codes: RefCell::default(),
            numbers: RefCell::default(),
            parent,
        }
    }
}

/// The same reads as [`StoreSources`], noting nothing: stateful replay runs over the same
/// trie database (meter included, which keeps its own first-use sets) as recording and
/// verification, but keeps no witness, so it pays no copy per node it resolves.
pub(crate) struct ReplaySources<'a> {
    store: &'a StateStore,
    parent: u64,
}

impl<'a> ReplaySources<'a> {
    /// Sources for executing on top of block `parent` of the store.
    pub(crate) fn new(store: &'a StateStore, parent: u64) -> Self {
        Self { store, parent }
    }
}

impl WitnessSources for ReplaySources<'_> {
    type Nodes = StateStore;

    fn nodes(&self) -> &Self::Nodes {
        self.store
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, DbFault> {
        store_code(self.store, hash)
    }

    fn ancestor_hash(&self, number: u64) -> Result<Option<B256>, DbFault> {
        store_ancestor_hash(self.store, self.parent, number)
    }
}

fn store_code(store: &StateStore, hash: &B256) -> Result<Option<Bytes>, DbFault> {
    store.code(hash).map_err(|err| DbFault::Store { reason: err.to_string() })
}

/// The hash of block `number` when it is at most `parent` (later ones are not ancestors).
fn store_ancestor_hash(
    store: &StateStore,
    parent: u64,
    number: u64,
) -> Result<Option<B256>, DbFault> {
    if number > parent {
        return Ok(None);
    }
    store.block_hash(number).map_err(|err| DbFault::Store { reason: err.to_string() })
}

/// Records the witness of `blocks`, executed on top of the store's head.
pub fn record_witness<B: BlockSpec>(
    store: &StateStore,
    rules: &ChainRules,
    blocks: &[B],
) -> Result<(Witness, Vec<ChunkStep>), RecordError> {
    let head: Head = store.head()?.ok_or(StoreError::Uninitialised)?;
    let sources = StoreSources::new(store, head.number);
    let steps = run_chunk(rules, head.state_root, head.hash, blocks, &sources)?;
    // Contiguous from the oldest hash BLOCKHASH used (or the parent) up to the parent, which
    // is always present: it binds the pre-state root and the numbering.
    // (`ancestor_hash` notes only numbers up to the parent.)
    let oldest = sources.numbers.borrow().first().copied().unwrap_or(head.number);
    let headers = (oldest..=head.number)
        .map(|n| {
            store.header(n)?.map(|(_, bytes)| bytes).ok_or(RecordError::MissingHeader { number: n })
        })
        .collect::<Result<Vec<_>, RecordError>>()?;
    let nodes = sources.nodes.into_recorded().into_values().collect();
    let codes = sources.codes.into_inner().into_values().collect();
    Ok((Witness { nodes, codes, headers }, steps))
}
