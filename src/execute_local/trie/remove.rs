//! Removal of a key, with collapse of branches left with a single child.
//!
//! Input: the root [`Node`], a [`NodeSource`] and a 64-nibble key. Output: the trie without the
//! key (absent key: no change). Invariants kept: no branch with fewer than two children, no
//! extension leading to a leaf or an extension (those are merged into one node). The only extra
//! node resolved is the surviving sibling of a collapsing branch, and it is resolved *before*
//! anything is modified, so an error leaves the trie's content unchanged.

use super::error::TrieError;
use super::node::{Branch, Node, Parent, prefix};
use super::ops::{Cursor, join, resolve, slot};
use super::source::NodeSource;
use alloy_trie::Nibbles;

/// Removes the key of `at` below `node`; returns whether a value was removed.
pub(crate) fn remove(
    node: &mut Node,
    src: &(impl NodeSource + ?Sized),
    at: Cursor<'_>,
) -> Result<bool, TrieError> {
    resolve(node, src, at)?;
    let rest = at.rest()?;
    match node {
        Node::Empty | Node::Hash(_) => Ok(false),
        Node::Leaf(leaf) => {
            if leaf.key != rest {
                return Ok(false);
            }
            *node = Node::Empty;
            Ok(true)
        }
        Node::Extension(ext) => {
            if !rest.starts_with(&ext.key) {
                return Ok(false);
            }
            let below = at.down(ext.key.len(), Parent::Extension)?;
            if !remove(&mut ext.child, src, below)? {
                return Ok(false);
            }
            ext.cache.touch();
            merge_extension(node, &at)?;
            Ok(true)
        }
        Node::Branch(branch) => {
            let nibble = at.nibble()?;
            let below = at.down(1, Parent::Branch)?;
            prepare_collapse(branch, nibble, src, &at)?;
            if !remove(slot(branch, nibble, &at)?, src, below)? {
                return Ok(false);
            }
            branch.cache.touch();
            collapse_branch(node, &at)
        }
    }
}

/// If removing the key would leave `branch` with one child, resolves that surviving child now
/// (before any modification). Resolves the child on the key's path first, as removal would.
fn prepare_collapse(
    branch: &mut Branch,
    nibble: u8,
    src: &(impl NodeSource + ?Sized),
    at: &Cursor<'_>,
) -> Result<(), TrieError> {
    let mut others = branch
        .children
        .iter()
        .enumerate()
        .filter(|(i, c)| usize::from(nibble) != *i && !matches!(c, Node::Empty));
    let (Some((sibling, _)), None) = (others.next(), others.next()) else {
        return Ok(());
    };
    let below = at.down(1, Parent::Branch)?;
    let on_path = slot(branch, nibble, at)?;
    resolve(on_path, src, below)?;
    let Node::Leaf(leaf) = on_path else {
        return Ok(());
    };
    if leaf.key != below.rest()? {
        return Ok(());
    }
    let sibling_nibble = u8::try_from(sibling).map_err(|_| at.invalid("bad child index"))?;
    let mut sibling_path = prefix(at.key, at.depth);
    if sibling_path.len() >= super::KEY_NIBBLES {
        return Err(at.invalid("branch at nibble 64"));
    }
    sibling_path.push_unchecked(sibling_nibble);
    let sibling_at = Cursor { key: &sibling_path, depth: at.depth + 1, parent: Parent::Branch };
    resolve(slot(branch, sibling_nibble, at)?, src, sibling_at)
}

/// After a child of the branch `node` was removed: keeps it if two or more children remain,
/// otherwise replaces it by its (already resolved) only child, prefixed with that child's nibble.
fn collapse_branch(node: &mut Node, at: &Cursor<'_>) -> Result<bool, TrieError> {
    let Node::Branch(branch) = node else {
        return Ok(true);
    };
    let mut present = branch.children.iter().enumerate().filter(|(_, c)| !matches!(c, Node::Empty));
    let only = match (present.next(), present.next()) {
        (Some(_), Some(_)) => return Ok(true),
        (None, _) => None,
        (Some((index, _)), None) => Some(index),
    };
    let Some(index) = only else {
        *node = Node::Empty;
        return Ok(true);
    };
    let nibble = u8::try_from(index).map_err(|_| at.invalid("bad child index"))?;
    let head = Nibbles::from_nibbles_unchecked([nibble]);
    let child = core::mem::take(slot(branch, nibble, at)?);
    *node = match child {
        Node::Leaf(mut leaf) => {
            leaf.key = join(&head, &leaf.key, at)?;
            leaf.cache.touch();
            Node::Leaf(leaf)
        }
        Node::Extension(mut ext) => {
            ext.key = join(&head, &ext.key, at)?;
            ext.cache.touch();
            Node::Extension(ext)
        }
        branch @ Node::Branch(_) => Node::new_extension(head, branch),
        Node::Empty | Node::Hash(_) => return Err(at.invalid("unresolved sibling in collapse")),
    };
    Ok(true)
}

/// After the child of the extension `node` changed: merges it with a child that became a leaf
/// or an extension, so no extension leads to a leaf or an extension.
fn merge_extension(node: &mut Node, at: &Cursor<'_>) -> Result<(), TrieError> {
    let Node::Extension(ext) = node else {
        return Ok(());
    };
    match &mut ext.child {
        Node::Branch(_) | Node::Hash(_) => return Ok(()),
        Node::Empty => {
            *node = Node::Empty;
            return Ok(());
        }
        Node::Leaf(leaf) => leaf.key = join(&ext.key, &leaf.key, at)?,
        Node::Extension(inner) => inner.key = join(&ext.key, &inner.key, at)?,
    }
    let mut child = core::mem::take(&mut ext.child);
    match &mut child {
        Node::Leaf(leaf) => leaf.cache.touch(),
        Node::Extension(inner) => inner.cache.touch(),
        _ => {}
    }
    *node = child;
    Ok(())
}
