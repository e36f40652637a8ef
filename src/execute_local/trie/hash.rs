//! Hashing and committing of a partially resolved trie.
//!
//! Input: the root [`Node`]. Output: the root hash, or the RLP of every node changed since the
//! last commit. Invariants: a node's cached [`RlpNode`] is valid until the node is touched, and a
//! touched node's ancestors are touched too, so only dirty paths are re-encoded and re-hashed;
//! unresolved subtrees are represented by their hash and never fetched.

use super::node::Node;
use alloy_primitives::{B256, Bytes, keccak256};
use alloy_rlp::{EMPTY_STRING_CODE, Encodable};
use alloy_trie::nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode};
use alloy_trie::{EMPTY_ROOT_HASH, TrieMask};

/// The node's reference as seen by its parent: `rlp(node)` if < 32 bytes, else its hash RLP.
pub(crate) fn rlp_of(node: &mut Node, buf: &mut Vec<u8>) -> RlpNode {
    let cached = match node {
        Node::Empty => return RlpNode::from_raw(&[EMPTY_STRING_CODE]).unwrap_or_default(),
        Node::Hash(hash) => return RlpNode::word_rlp(hash),
        Node::Leaf(leaf) => &leaf.cache.rlp,
        Node::Extension(ext) => &ext.cache.rlp,
        Node::Branch(branch) => &branch.cache.rlp,
    };
    if let Some(rlp) = cached {
        return rlp.clone();
    }
    encode_into(node, buf);
    let rlp = RlpNode::from_rlp(buf);
    set_cached(node, rlp.clone());
    rlp
}

fn set_cached(node: &mut Node, rlp: RlpNode) {
    match node {
        Node::Leaf(leaf) => leaf.cache.rlp = Some(rlp),
        Node::Extension(ext) => ext.cache.rlp = Some(rlp),
        Node::Branch(branch) => branch.cache.rlp = Some(rlp),
        Node::Empty | Node::Hash(_) => {}
    }
}

/// Writes the full RLP of a resolved node into `buf` (children by reference, hashed as needed).
fn encode_into(node: &mut Node, buf: &mut Vec<u8>) {
    match node {
        Node::Empty | Node::Hash(_) => {
            buf.clear();
            buf.push(EMPTY_STRING_CODE);
        }
        Node::Leaf(leaf) => {
            buf.clear();
            LeafNodeRef::new(&leaf.key, &leaf.value).encode(buf);
        }
        Node::Extension(ext) => {
            let child = rlp_of(&mut ext.child, buf);
            buf.clear();
            ExtensionNodeRef::new(&ext.key, &child).encode(buf);
        }
        Node::Branch(branch) => {
            let mut stack: [RlpNode; 16] = Default::default();
            let mut mask = TrieMask::default();
            let mut count = 0;
            for (index, child) in (0u8..).zip(branch.children.iter_mut()) {
                if matches!(child, Node::Empty) {
                    continue;
                }
                if let Some(entry) = stack.get_mut(count) {
                    *entry = rlp_of(child, buf);
                    mask.set_bit(index);
                    count += 1;
                }
            }
            buf.clear();
            let present = stack.get(..count).unwrap_or_default();
            BranchNodeRef::new(present, mask).encode(buf);
        }
    }
}

/// Root hash of the trie below `node` (the root is hashed even when shorter than 32 bytes).
pub(crate) fn root_hash(node: &mut Node, buf: &mut Vec<u8>) -> B256 {
    match node {
        Node::Empty => EMPTY_ROOT_HASH,
        Node::Hash(hash) => *hash,
        _ => {
            let rlp = rlp_of(node, buf);
            rlp.as_hash().unwrap_or_else(|| keccak256(rlp.as_slice()))
        }
    }
}

/// Emits `(hash, rlp)` for every not yet stored node of length >= 32 below `node`, and for
/// `node` itself when `is_root` (whatever its length); marks them stored.
pub(crate) fn commit(
    node: &mut Node,
    buf: &mut Vec<u8>,
    is_root: bool,
    out: &mut impl FnMut(B256, Bytes),
) {
    let stored = match node {
        Node::Empty | Node::Hash(_) => return,
        Node::Leaf(leaf) => leaf.cache.stored,
        Node::Extension(ext) => ext.cache.stored,
        Node::Branch(branch) => branch.cache.stored,
    };
    if stored && !is_root {
        return;
    }
    match node {
        Node::Extension(ext) => commit(&mut ext.child, buf, false, out),
        Node::Branch(branch) => {
            for child in branch.children.iter_mut() {
                commit(child, buf, false, out);
            }
        }
        _ => {}
    }
    let rlp = rlp_of(node, buf);
    encode_into(node, buf);
    if is_root || rlp.is_hash() {
        let hash = rlp.as_hash().unwrap_or_else(|| keccak256(buf.as_slice()));
        out(hash, Bytes::copy_from_slice(buf));
    }
    match node {
        Node::Leaf(leaf) => leaf.cache.stored = true,
        Node::Extension(ext) => ext.cache.stored = true,
        Node::Branch(branch) => branch.cache.stored = true,
        Node::Empty | Node::Hash(_) => {}
    }
}
