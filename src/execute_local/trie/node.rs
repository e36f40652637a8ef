//! In-memory trie nodes and their validated decoding from (untrusted) RLP.
//!
//! Input: the RLP of a node fetched by hash, the nibble depth at which it sits and the kind of
//! its parent. Output: a resolved [`Node`] whose hash-referenced children stay unresolved
//! ([`Node::Hash`]) and whose embedded (< 32 byte) children are decoded inline.
//! Invariants enforced on every decoded node: canonical RLP (re-encoding gives the same bytes, no
//! trailing bytes), leaves end exactly at nibble 64 and carry a non-empty value, extensions have
//! a non-empty key, end before nibble 64 and lead to a branch, branches sit above nibble 64, have
//! no value and at least two children, hash-referenced nodes (except the root) are >= 32 bytes.

use super::KEY_NIBBLES;
use super::error::TrieError;
use alloy_primitives::{B256, Bytes};
use alloy_rlp::{Decodable, EMPTY_STRING_CODE, Encodable};
use alloy_trie::Nibbles;
use alloy_trie::nodes::{RlpNode, TrieNode};

/// Hashing and persistence state of a resolved node.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cache {
    /// `rlp(node)` if shorter than 32 bytes, else `rlp(keccak(rlp(node)))`; `None` when dirty.
    pub(crate) rlp: Option<RlpNode>,
    /// True when the node's current encoding is already in the store (no need to commit it).
    pub(crate) stored: bool,
}

impl Cache {
    /// Cache of a node loaded from the store.
    fn loaded(rlp: RlpNode) -> Self {
        Self { rlp: Some(rlp), stored: true }
    }

    /// Marks the node modified.
    pub(crate) fn touch(&mut self) {
        self.rlp = None;
        self.stored = false;
    }
}

/// Leaf: the remaining key nibbles and the value.
#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    pub(crate) key: Nibbles,
    pub(crate) value: Bytes,
    pub(crate) cache: Cache,
}

/// Extension: a shared key segment followed by a branch.
#[derive(Debug, Clone)]
pub(crate) struct Extension {
    pub(crate) key: Nibbles,
    pub(crate) child: Node,
    pub(crate) cache: Cache,
}

/// Branch: sixteen children indexed by the next nibble (secure tries never hold branch values).
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub(crate) children: [Node; 16],
    pub(crate) cache: Cache,
}

/// A trie node, resolved or still referenced by hash.
#[derive(Debug, Clone, Default)]
pub(crate) enum Node {
    /// No node (empty trie, or an empty branch slot).
    #[default]
    Empty,
    /// Not yet resolved: only the hash of its RLP is known.
    Hash(B256),
    Leaf(Box<Leaf>),
    Extension(Box<Extension>),
    Branch(Box<Branch>),
}

impl Node {
    /// A new (dirty, unstored) leaf.
    pub(crate) fn new_leaf(key: Nibbles, value: Bytes) -> Self {
        Self::Leaf(Box::new(Leaf { key, value, cache: Cache::default() }))
    }

    /// A new (dirty, unstored) extension.
    pub(crate) fn new_extension(key: Nibbles, child: Node) -> Self {
        Self::Extension(Box::new(Extension { key, child, cache: Cache::default() }))
    }
}

/// What references the node being decoded; extensions may only lead to branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parent {
    Root,
    Branch,
    Extension,
}

/// Position of a node being decoded: used for structure checks and error reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site<'k> {
    /// Hash of the fetched node holding the bytes (for error reports).
    pub(crate) hash: B256,
    /// The full key being processed; the node sits at `key[..depth]`.
    pub(crate) key: &'k Nibbles,
    /// Number of nibbles consumed above the node.
    pub(crate) depth: usize,
    pub(crate) parent: Parent,
}

impl Site<'_> {
    fn invalid(&self, reason: &'static str) -> TrieError {
        TrieError::InvalidStructure { hash: self.hash, path: prefix(self.key, self.depth), reason }
    }

    fn malformed(&self, reason: impl Into<String>) -> TrieError {
        TrieError::MalformedNode { hash: self.hash, reason: reason.into() }
    }
}

/// `key[..len]`, clamped to the key length (never panics).
pub(crate) fn prefix(key: &Nibbles, len: usize) -> Nibbles {
    key.slice(..len.min(key.len()))
}

/// Decodes a node fetched by hash (`bytes` already verified to hash to `site.hash`).
pub(crate) fn decode_fetched(bytes: &[u8], site: Site<'_>) -> Result<Node, TrieError> {
    let cached = if bytes.len() >= 32 {
        RlpNode::word_rlp(&site.hash)
    } else if site.parent == Parent::Root {
        RlpNode::from_raw(bytes).ok_or_else(|| site.malformed("node too long"))?
    } else {
        return Err(site.malformed("hash-referenced node shorter than 32 bytes"));
    };
    decode_node(bytes, site, cached)
}

/// Decodes and validates one node encoding; `cached` becomes the node's clean RLP reference.
fn decode_node(bytes: &[u8], site: Site<'_>, cached: RlpNode) -> Result<Node, TrieError> {
    let mut buf = bytes;
    let node = TrieNode::decode(&mut buf).map_err(|e| site.malformed(e.to_string()))?;
    if !buf.is_empty() {
        return Err(site.malformed("trailing bytes after node"));
    }
    if node.length() != bytes.len() || alloy_rlp::encode(&node) != bytes {
        return Err(site.malformed("non-canonical node encoding"));
    }
    let cache = Cache::loaded(cached);
    match node {
        TrieNode::EmptyRoot => Err(site.invalid("empty node referenced as a child")),
        TrieNode::Leaf(leaf) => {
            if site.parent == Parent::Extension {
                return Err(site.invalid("extension leads to a leaf"));
            }
            if site.depth.checked_add(leaf.key.len()) != Some(KEY_NIBBLES) {
                return Err(site.invalid("leaf does not end at nibble 64"));
            }
            if leaf.value.is_empty() {
                return Err(site.invalid("leaf with empty value"));
            }
            Ok(Node::Leaf(Box::new(Leaf { key: leaf.key, value: leaf.value.into(), cache })))
        }
        TrieNode::Extension(ext) => {
            if site.parent == Parent::Extension {
                return Err(site.invalid("extension leads to an extension"));
            }
            let end = site.depth.saturating_add(ext.key.len());
            if ext.key.is_empty() || end >= KEY_NIBBLES {
                return Err(site.invalid("extension key empty or reaching nibble 64"));
            }
            let child_site = Site { depth: end, parent: Parent::Extension, ..site };
            let child = decode_child(ext.child.as_slice(), child_site)?;
            Ok(Node::Extension(Box::new(Extension { key: ext.key, child, cache })))
        }
        TrieNode::Branch(branch) => decode_branch(&branch, site, cache),
    }
}

/// Converts a decoded branch, checking its shape and decoding embedded children.
fn decode_branch(
    branch: &alloy_trie::nodes::BranchNode,
    site: Site<'_>,
    cache: Cache,
) -> Result<Node, TrieError> {
    if site.depth >= KEY_NIBBLES {
        return Err(site.invalid("branch at or below nibble 64"));
    }
    if branch.state_mask.count_ones() < 2 {
        return Err(site.invalid("branch with fewer than two children"));
    }
    let child_site = Site { depth: site.depth + 1, parent: Parent::Branch, ..site };
    let mut children: [Node; 16] = Default::default();
    for (index, child) in branch.as_ref().children() {
        let (Some(rlp), Some(slot)) = (child, children.get_mut(usize::from(index))) else {
            continue;
        };
        *slot = decode_child(rlp.as_slice(), child_site)?;
    }
    Ok(Node::Branch(Box::new(Branch { children, cache })))
}

/// Classifies a child reference: a 32-byte hash, or an embedded node shorter than 32 bytes.
fn decode_child(item: &[u8], site: Site<'_>) -> Result<Node, TrieError> {
    match item {
        [] => Err(site.malformed("empty child reference")),
        [first, hash @ ..] if *first == EMPTY_STRING_CODE + 32 && hash.len() == 32 => {
            Ok(Node::Hash(B256::from_slice(hash)))
        }
        [first, ..] if *first >= 0xc0 && item.len() < 32 => {
            let cached = RlpNode::from_raw(item).ok_or_else(|| site.malformed("bad child"))?;
            decode_node(item, site, cached)
        }
        _ => Err(site.malformed("child reference is neither a hash nor a short node")),
    }
}
