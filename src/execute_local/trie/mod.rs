//! A panic-free partial (sparse) Ethereum Merkle-Patricia trie with lazy node resolution.
//!
//! Input: a root hash, a [`NodeSource`] that yields node RLP by keccak256 hash (rocksdb, a
//! recorded witness, ...) and operations on 32-byte hashed keys (secure trie, 64 nibbles) with
//! opaque non-empty values.
//! Output: values, the new root hash ([`SparseTrie::root`]) and the changed nodes
//! ([`SparseTrie::commit`]).
//! Invariants:
//! - Nodes are fetched only when an operation walks through them, then kept resolved; every
//!   fetched node is checked against its hash, decoded strictly (canonical RLP, leaves ending at
//!   nibble 64, no branch values, branches with >= 2 children, extensions with a non-empty key
//!   leading to a branch) and rejected with a typed [`TrieError`] otherwise.
//! - The in-memory trie stays canonical after every operation (removals collapse branches left
//!   with one child, resolving that child, and merge extension/leaf paths), so its root equals the
//!   root of the same key set built from scratch.
//! - Nothing panics on input data, and every recursion consumes at least one nibble, so it is
//!   bounded by the 64-nibble key length.
//! - Each node caches its RLP reference; hashing re-encodes only nodes modified since.
//! - On `Err`, the trie's content is unchanged (some nodes may have been resolved); an unresolved
//!   subtree is trusted by hash and never checked.

mod error;
mod hash;
mod node;
mod ops;
mod remove;
mod source;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_hostile;
#[cfg(test)]
mod tests_prop;

pub use error::{NodeSourceError, TrieError};
pub use source::{MemNodes, NodeSource, RecordingSource};

use alloy_primitives::{B256, Bytes};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles};
use node::{Node, Parent};
use ops::Cursor;

/// Length of every key in nibbles (keys are 32-byte hashes).
pub(crate) const KEY_NIBBLES: usize = 64;

/// A partially resolved secure Merkle-Patricia trie (see the module documentation).
#[derive(Debug, Clone)]
pub struct SparseTrie {
    root: Node,
    /// Scratch buffer for node encoding.
    buf: Vec<u8>,
}

impl SparseTrie {
    /// A trie with the given root: [`EMPTY_ROOT_HASH`] is the empty trie, any other root is
    /// resolved from the source on first use.
    pub fn new(root: B256) -> Self {
        let root = if root == EMPTY_ROOT_HASH { Node::Empty } else { Node::Hash(root) };
        Self { root, buf: Vec::with_capacity(600) }
    }

    /// The value stored under `key`, resolving the nodes on its path.
    pub fn get(
        &mut self,
        src: &(impl NodeSource + ?Sized),
        key: &B256,
    ) -> Result<Option<Bytes>, TrieError> {
        ops::get(&mut self.root, src, &Nibbles::unpack(key))
    }

    /// Sets `key` to `value` (non-empty; use [`Self::remove`] to delete).
    pub fn insert(
        &mut self,
        src: &(impl NodeSource + ?Sized),
        key: &B256,
        value: Bytes,
    ) -> Result<(), TrieError> {
        if value.is_empty() {
            return Err(TrieError::EmptyValue { key: *key });
        }
        let nibbles = Nibbles::unpack(key);
        let at = Cursor { key: &nibbles, depth: 0, parent: Parent::Root };
        ops::insert(&mut self.root, src, at, &value).map(drop)
    }

    /// Removes `key`; an absent key is a no-op. Resolves the surviving sibling when a branch
    /// collapses to a single child.
    pub fn remove(
        &mut self,
        src: &(impl NodeSource + ?Sized),
        key: &B256,
    ) -> Result<(), TrieError> {
        let nibbles = Nibbles::unpack(key);
        let at = Cursor { key: &nibbles, depth: 0, parent: Parent::Root };
        remove::remove(&mut self.root, src, at).map(drop)
    }

    /// The root hash; only nodes modified since the last hashing are re-encoded.
    pub fn root(&mut self) -> B256 {
        hash::root_hash(&mut self.root, &mut self.buf)
    }

    /// Emits `(keccak256(rlp), rlp)` for every node created or changed since the last commit
    /// whose RLP is >= 32 bytes, plus the root node (hashed even when short) whenever it is
    /// resolved; marks them stored. Emits nothing for the empty trie or an unresolved root.
    pub fn commit(&mut self, out: &mut impl FnMut(B256, Bytes)) {
        hash::commit(&mut self.root, &mut self.buf, true, out);
    }
}
