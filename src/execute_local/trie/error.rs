//! Error types of the sparse trie.
//!
//! Every failure caused by input data (a missing, malformed or non-canonical node) is a typed
//! [`TrieError`]; nothing in this module panics on input-derived data.

use alloy_primitives::B256;
use alloy_trie::Nibbles;

/// A fault of the node store itself (I/O, corruption of the database), not of the trie data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("node source failure: {message}")]
pub struct NodeSourceError {
    /// Human-readable description of the fault.
    pub message: String,
}

impl NodeSourceError {
    /// Wraps any displayable fault.
    pub fn new(message: impl core::fmt::Display) -> Self {
        Self { message: message.to_string() }
    }
}

/// Failure of a trie operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrieError {
    /// A node needed by the operation is not known to the source.
    #[error("missing trie node {hash} at path {path:?}")]
    MissingNode {
        /// Hash under which the node is referenced.
        hash: B256,
        /// Nibble path from the root to the node.
        path: Nibbles,
    },
    /// The source returned bytes whose keccak256 is not the requested hash.
    #[error("node stored under {expected} hashes to {actual}")]
    HashMismatch {
        /// The requested hash.
        expected: B256,
        /// keccak256 of the returned bytes.
        actual: B256,
    },
    /// The node (or a node embedded in it) could not be decoded or is not canonically encoded.
    #[error("malformed trie node {hash}: {reason}")]
    MalformedNode {
        /// Hash of the fetched node that holds the bad encoding.
        hash: B256,
        /// What is wrong.
        reason: String,
    },
    /// The nodes decode but do not form a canonical secure trie (bad depth, bad shape).
    #[error("invalid trie structure in node {hash} at path {path:?}: {reason}")]
    InvalidStructure {
        /// Hash of the fetched node that holds the bad structure (zero for in-memory faults).
        hash: B256,
        /// Nibble path from the root to the offending node.
        path: Nibbles,
        /// What is wrong.
        reason: &'static str,
    },
    /// Values are never empty; deleting is done with `remove`.
    #[error("empty value inserted under key {key}")]
    EmptyValue {
        /// The key of the rejected insertion.
        key: B256,
    },
    /// The node source failed.
    #[error(transparent)]
    Source(#[from] NodeSourceError),
}
