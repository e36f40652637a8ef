//! Lookup, insertion and removal on a partially resolved trie.
//!
//! Input: the root [`Node`], a [`NodeSource`] for unresolved nodes and a 64-nibble key.
//! Output: the value (get) or the updated trie (insert/remove); every node touched on the way is
//! resolved in place and stays resolved, every modified node has its cache invalidated.
//! Invariants: each recursion step consumes at least one nibble, so recursion depth is bounded by
//! 64 (plus one frame per call); all nibble arithmetic is checked against [`KEY_NIBBLES`].

use super::KEY_NIBBLES;
use super::error::TrieError;
use super::node::{Branch, Node, Parent, Site, decode_fetched, prefix};
use super::source::NodeSource;
use alloy_primitives::{B256, Bytes, keccak256};
use alloy_trie::Nibbles;

/// Where the operation currently is: the full key, the consumed depth, the parent kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'k> {
    pub(crate) key: &'k Nibbles,
    pub(crate) depth: usize,
    pub(crate) parent: Parent,
}

impl<'k> Cursor<'k> {
    pub(crate) fn invalid(&self, reason: &'static str) -> TrieError {
        TrieError::InvalidStructure { hash: B256::ZERO, path: prefix(self.key, self.depth), reason }
    }

    /// The not yet consumed part of the key.
    pub(crate) fn rest(&self) -> Result<Nibbles, TrieError> {
        if self.depth > self.key.len() {
            return Err(self.invalid("path longer than the key"));
        }
        Ok(self.key.slice(self.depth..))
    }

    /// Cursor `step` nibbles deeper, below a node of kind `parent`.
    pub(crate) fn down(&self, step: usize, parent: Parent) -> Result<Self, TrieError> {
        match self.depth.checked_add(step) {
            Some(depth) if depth <= KEY_NIBBLES => Ok(Self { key: self.key, depth, parent }),
            _ => Err(self.invalid("path longer than 64 nibbles")),
        }
    }

    /// The nibble at the current depth.
    pub(crate) fn nibble(&self) -> Result<u8, TrieError> {
        self.key.get(self.depth).ok_or_else(|| self.invalid("path longer than the key"))
    }
}

/// Replaces a [`Node::Hash`] by the decoded node fetched from `src` (no-op otherwise).
pub(crate) fn resolve(
    node: &mut Node,
    src: &(impl NodeSource + ?Sized),
    at: Cursor<'_>,
) -> Result<(), TrieError> {
    let Node::Hash(hash) = *node else {
        return Ok(());
    };
    let Some(bytes) = src.node(&hash)? else {
        return Err(TrieError::MissingNode { hash, path: prefix(at.key, at.depth) });
    };
    let actual = keccak256(&bytes);
    if actual != hash {
        return Err(TrieError::HashMismatch { expected: hash, actual });
    }
    let site = Site { hash, key: at.key, depth: at.depth, parent: at.parent };
    *node = decode_fetched(&bytes, site)?;
    Ok(())
}

/// Mutable access to a branch slot (index is a nibble, so always in range).
pub(crate) fn slot<'n>(
    branch: &'n mut Branch,
    nibble: u8,
    at: &Cursor<'_>,
) -> Result<&'n mut Node, TrieError> {
    branch.children.get_mut(usize::from(nibble)).ok_or_else(|| at.invalid("nibble out of range"))
}

/// `a ++ b`, checked against the 64-nibble bound.
pub(crate) fn join(a: &Nibbles, b: &Nibbles, at: &Cursor<'_>) -> Result<Nibbles, TrieError> {
    if a.len().saturating_add(b.len()) > KEY_NIBBLES {
        return Err(at.invalid("merged path longer than 64 nibbles"));
    }
    Ok(a.join(b))
}

/// Looks `key` up, resolving the nodes on its path.
pub(crate) fn get(
    root: &mut Node,
    src: &(impl NodeSource + ?Sized),
    key: &Nibbles,
) -> Result<Option<Bytes>, TrieError> {
    let mut node = root;
    let mut at = Cursor { key, depth: 0, parent: Parent::Root };
    loop {
        resolve(node, src, at)?;
        match node {
            Node::Empty | Node::Hash(_) => return Ok(None),
            Node::Leaf(leaf) => {
                return Ok((leaf.key == at.rest()?).then(|| leaf.value.clone()));
            }
            Node::Extension(ext) => {
                if !at.rest()?.starts_with(&ext.key) {
                    return Ok(None);
                }
                at = at.down(ext.key.len(), Parent::Extension)?;
                node = &mut ext.child;
            }
            Node::Branch(branch) => {
                let nibble = at.nibble()?;
                at = at.down(1, Parent::Branch)?;
                node = slot(branch, nibble, &at)?;
            }
        }
    }
}

/// Sets `key` to `value` below `node`; returns whether anything changed.
pub(crate) fn insert(
    node: &mut Node,
    src: &(impl NodeSource + ?Sized),
    at: Cursor<'_>,
    value: &Bytes,
) -> Result<bool, TrieError> {
    resolve(node, src, at)?;
    let rest = at.rest()?;
    match node {
        Node::Empty | Node::Hash(_) => {
            *node = Node::new_leaf(rest, value.clone());
            Ok(true)
        }
        Node::Leaf(leaf) if leaf.key == rest => {
            let changed = leaf.value != *value;
            if changed {
                leaf.value = value.clone();
                leaf.cache.touch();
            }
            Ok(changed)
        }
        Node::Extension(ext) if rest.starts_with(&ext.key) => {
            let below = at.down(ext.key.len(), Parent::Extension)?;
            let changed = insert(&mut ext.child, src, below, value)?;
            if changed {
                ext.cache.touch();
            }
            Ok(changed)
        }
        Node::Leaf(_) | Node::Extension(_) => {
            split(node, &rest, value, &at)?;
            Ok(true)
        }
        Node::Branch(branch) => {
            let nibble = at.nibble()?;
            let below = at.down(1, Parent::Branch)?;
            let changed = insert(slot(branch, nibble, &at)?, src, below, value)?;
            if changed {
                branch.cache.touch();
            }
            Ok(changed)
        }
    }
}

impl Node {
    /// Replaces the key of a leaf or extension (no-op for other nodes).
    pub(crate) fn set_key(&mut self, key: Nibbles) {
        match self {
            Self::Leaf(leaf) => {
                leaf.key = key;
                leaf.cache.touch();
            }
            Self::Extension(ext) => {
                ext.key = key;
                ext.cache.touch();
            }
            _ => {}
        }
    }
}

/// Splits the leaf/extension `node` where the new key `rest` diverges from it,
/// placing a new leaf holding `value` beside it under a new (extension over a) branch.
/// All checks happen before `node` is modified, so an error leaves it untouched.
fn split(node: &mut Node, rest: &Nibbles, value: &Bytes, at: &Cursor<'_>) -> Result<(), TrieError> {
    let old_key = match node {
        Node::Leaf(leaf) => leaf.key,
        Node::Extension(ext) => ext.key,
        _ => return Err(at.invalid("split of a node without a key")),
    };
    let common = old_key.common_prefix_length(rest);
    let (Some(old_nibble), Some(new_nibble)) = (old_key.get(common), rest.get(common)) else {
        return Err(at.invalid("keys of different length share a path"));
    };
    let old_tail = old_key.slice(common + 1..);
    let old_moved = match core::mem::take(node) {
        // An extension whose whole key is consumed is replaced by its child branch.
        Node::Extension(ext) if old_tail.is_empty() => ext.child,
        mut other => {
            other.set_key(old_tail);
            other
        }
    };
    let mut branch = Box::new(Branch { children: Default::default(), cache: Default::default() });
    if let Some(slot) = branch.children.get_mut(usize::from(old_nibble)) {
        *slot = old_moved;
    }
    if let Some(slot) = branch.children.get_mut(usize::from(new_nibble)) {
        *slot = Node::new_leaf(rest.slice(common + 1..), value.clone());
    }
    *node = if common == 0 {
        Node::Branch(branch)
    } else {
        Node::new_extension(rest.slice(..common), Node::Branch(branch))
    };
    Ok(())
}
