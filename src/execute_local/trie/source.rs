//! Node sources: where the lazily resolved nodes of a [`super::SparseTrie`] come from.
//!
//! Input: a node hash. Output: the node's RLP, or `None` when unknown. Sources do not need to
//! verify that the bytes hash to the key; the trie checks every node it receives.

use super::error::NodeSourceError;
use alloy_primitives::{B256, Bytes, keccak256};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// Where resolved nodes come from. Implementations key nodes by keccak256(rlp).
pub trait NodeSource {
    /// RLP of the node whose keccak256 is `hash`, `Ok(None)` if unknown. Err only for I/O faults.
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, NodeSourceError>;
}

impl<T: NodeSource + ?Sized> NodeSource for &T {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, NodeSourceError> {
        (**self).node(hash)
    }
}

/// A simple in-memory node source (tests, witness maps).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemNodes(pub HashMap<B256, Bytes>);

impl MemNodes {
    /// An empty set of nodes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `rlp` under its keccak256 and returns that hash.
    pub fn insert_node(&mut self, rlp: Bytes) -> B256 {
        let hash = keccak256(&rlp);
        self.0.insert(hash, rlp);
        hash
    }

    /// Stores `rlp` under an explicit key (no check; lets tests build hostile sources).
    pub fn insert_raw(&mut self, hash: B256, rlp: Bytes) {
        self.0.insert(hash, rlp);
    }

    /// Removes the node stored under `hash`.
    pub fn remove_node(&mut self, hash: &B256) -> Option<Bytes> {
        self.0.remove(hash)
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no node is stored.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Bytes> for MemNodes {
    fn from_iter<I: IntoIterator<Item = Bytes>>(iter: I) -> Self {
        let mut nodes = Self::new();
        for rlp in iter {
            nodes.insert_node(rlp);
        }
        nodes
    }
}

impl NodeSource for MemNodes {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, NodeSourceError> {
        Ok(self.0.get(hash).cloned())
    }
}

/// Wraps a [`NodeSource`] and records every `(hash, bytes)` pair it returns (a witness).
#[derive(Debug)]
pub struct RecordingSource<'a, S: ?Sized> {
    inner: &'a S,
    recorded: RefCell<BTreeMap<B256, Bytes>>,
}

impl<'a, S: NodeSource + ?Sized> RecordingSource<'a, S> {
    /// Starts recording on top of `inner`.
    pub fn new(inner: &'a S) -> Self {
        Self { inner, recorded: RefCell::new(BTreeMap::new()) }
    }

    /// Every node returned so far, keyed by the hash it was requested under.
    pub fn into_recorded(self) -> BTreeMap<B256, Bytes> {
        self.recorded.into_inner()
    }
}

impl<S: NodeSource + ?Sized> NodeSource for RecordingSource<'_, S> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, NodeSourceError> {
        let found = self.inner.node(hash)?;
        if let Some(bytes) = &found {
            self.recorded.borrow_mut().insert(*hash, bytes.clone());
        }
        Ok(found)
    }
}
