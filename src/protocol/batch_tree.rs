//! The batch's Merkle tree of L2 block hashes (docs/protocol.md, "Checkpoints").
//!
//! Input: the header of the block before a batch (`base`) and the batch's checkpoints.
//! Output: the batch's headers, the root the rollup contract stores (`checkpointsRoot`), and a
//! block's path to it: what a challenge carries instead of every checkpoint of the batch.
//!
//! The tree: the leaves are the block hashes in order; each level pairs its nodes left to
//! right, `keccak256(left ‖ right)`, and a level of odd width pairs its last node with the zero
//! word; one leaf is its own root. Every path of a batch of `n` blocks has `depth(n)` =
//! ⌈log2 n⌉ siblings. A leaf is the hash of a 160-byte header and an inner node of 64 bytes, so
//! no inner node can be passed off as a header.

use super::header::{Checkpoint, L2Header};
use alloy_primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};

/// The headers of a batch's blocks: `checkpoints` chained from `base`, the header of the block
/// before the batch's first. Mirrors the contract's chaining at `propose`.
pub fn batch_headers(base: &L2Header, checkpoints: &[Checkpoint]) -> Vec<L2Header> {
    let mut parent = *base;
    checkpoints
        .iter()
        .map(|cp| {
            let header = L2Header {
                parent_hash: parent.block_hash(),
                number: parent.number.saturating_add(1),
                input_commitment: cp.input_commitment,
                state_root: cp.post_state_root,
                gas_used: cp.gas_used,
            };
            parent = header;
            header
        })
        .collect()
}

/// Siblings on every path of a tree of `count` leaves.
pub fn depth(count: usize) -> usize {
    let mut depth = 0;
    while (1usize << depth) < count {
        depth += 1;
    }
    depth
}

/// The root of `leaves`; the zero word for none (no batch is empty).
pub fn merkle_root(leaves: &[B256]) -> B256 {
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = parents(&level);
    }
    level.first().copied().unwrap_or_default()
}

/// Leaf `index`'s siblings, from the leaves up; `None` if there is no such leaf.
pub fn merkle_path(leaves: &[B256], index: usize) -> Option<Vec<B256>> {
    if index >= leaves.len() {
        return None;
    }
    let mut level = leaves.to_vec();
    let mut at = index;
    let mut path = Vec::with_capacity(depth(leaves.len()));
    while level.len() > 1 {
        path.push(level.get(at ^ 1).copied().unwrap_or_default());
        level = parents(&level);
        at /= 2;
    }
    Some(path)
}

/// Whether `path` leads from `leaf` at `index` to `root` in a tree of `count` leaves: the
/// check the contract makes.
pub fn verify_path(root: B256, count: usize, index: usize, leaf: B256, path: &[B256]) -> bool {
    if index >= count || path.len() != depth(count) {
        return false;
    }
    let node = path.iter().enumerate().fold(leaf, |node, (level, sibling)| {
        if (index >> level) & 1 == 0 {
            node_hash(node, *sibling)
        } else {
            node_hash(*sibling, node)
        }
    });
    node == root
}

/// The root of a batch of `checkpoints` on `base` (the contract's `checkpointsRoot`).
pub fn checkpoints_root(base: &L2Header, checkpoints: &[Checkpoint]) -> B256 {
    headers_root(&batch_headers(base, checkpoints))
}

/// The root of a batch whose headers ([`batch_headers`]) are `headers`.
pub fn headers_root(headers: &[L2Header]) -> B256 {
    merkle_root(&leaves(headers))
}

/// What a challenge of block `index` of a batch carries to locate it: the block's header as
/// proposed, its parent's header (whose state root is the pre-state) and its path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointProof {
    pub parent: L2Header,
    pub claimed: L2Header,
    pub path: Vec<B256>,
}

impl CheckpointProof {
    /// The proof for block `index` of the batch of `checkpoints` on `base`; `None` if the
    /// batch has no such block.
    pub fn new(base: &L2Header, checkpoints: &[Checkpoint], index: usize) -> Option<Self> {
        Self::from_headers(base, &batch_headers(base, checkpoints), index)
    }

    /// [`Self::new`] from the batch's headers ([`batch_headers`] of `base`), when the caller
    /// has them already.
    pub fn from_headers(base: &L2Header, headers: &[L2Header], index: usize) -> Option<Self> {
        let claimed = *headers.get(index)?;
        let parent = match index.checked_sub(1) {
            Some(previous) => *headers.get(previous)?,
            None => *base,
        };
        let path = merkle_path(&leaves(headers), index)?;
        Some(Self { parent, claimed, path })
    }

    /// The contract's checks of a challenge's location: the claimed header is block `index` of
    /// the batch of `count` blocks under `root`, and `parent` is the header it names.
    pub fn verify(&self, root: B256, count: usize, index: usize) -> bool {
        verify_path(root, count, index, self.claimed.block_hash(), &self.path)
            && self.parent.block_hash() == self.claimed.parent_hash
    }
}

fn leaves(headers: &[L2Header]) -> Vec<B256> {
    headers.iter().map(L2Header::block_hash).collect()
}

fn parents(level: &[B256]) -> Vec<B256> {
    level
        .chunks(2)
        .map(|pair| node_hash(pair[0], pair.get(1).copied().unwrap_or_default()))
        .collect()
}

fn node_hash(left: B256, right: B256) -> B256 {
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(left.as_slice());
    both[32..].copy_from_slice(right.as_slice());
    keccak256(both)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn checkpoints(n: usize, seed: u8) -> Vec<Checkpoint> {
        (0..n)
            .map(|i| Checkpoint {
                input_commitment: keccak256([seed, i as u8, 1]),
                post_state_root: keccak256([seed, i as u8, 2]),
                gas_used: 21_000 * i as u64,
            })
            .collect()
    }

    #[test]
    fn the_root_of_one_block_is_its_hash_and_its_path_is_empty() {
        let base = L2Header::genesis(B256::repeat_byte(9));
        let cps = checkpoints(1, 0);
        let headers = batch_headers(&base, &cps);
        assert_eq!(checkpoints_root(&base, &cps), headers[0].block_hash());
        let proof = CheckpointProof::new(&base, &cps, 0).expect("block 0");
        assert!(proof.path.is_empty());
        assert_eq!(proof.parent, base);
        assert!(proof.verify(checkpoints_root(&base, &cps), 1, 0));
    }

    #[test]
    fn three_leaves_pair_the_last_with_the_zero_word() {
        let leaves = [B256::repeat_byte(1), B256::repeat_byte(2), B256::repeat_byte(3)];
        let expected = node_hash(node_hash(leaves[0], leaves[1]), node_hash(leaves[2], B256::ZERO));
        assert_eq!(merkle_root(&leaves), expected);
        assert_eq!(
            merkle_path(&leaves, 2),
            Some(vec![B256::ZERO, node_hash(leaves[0], leaves[1])])
        );
    }

    #[test]
    fn headers_chain_from_the_base() {
        let base = L2Header { number: 41, ..L2Header::genesis(B256::repeat_byte(3)) };
        let headers = batch_headers(&base, &checkpoints(3, 1));
        assert_eq!(headers[0].parent_hash, base.block_hash());
        assert_eq!(headers[0].number, 42);
        assert_eq!(headers[2].parent_hash, headers[1].block_hash());
        assert_eq!(headers[2].number, 44);
    }

    proptest! {
        /// Every block of every batch size up to the contract's 64 proves into its root, with
        /// a path of ⌈log2 n⌉ siblings; a changed checkpoint, another index or another count
        /// does not.
        #[test]
        fn every_block_proves_into_its_batch_root_and_nothing_else_does(
            n in 1usize..=64, pick in any::<prop::sample::Index>(), seed in any::<u8>()
        ) {
            let base = L2Header::genesis(keccak256([seed]));
            let cps = checkpoints(n, seed);
            let root = checkpoints_root(&base, &cps);
            let index = pick.index(n);
            let proof = CheckpointProof::new(&base, &cps, index).expect("in range");
            prop_assert_eq!(proof.path.len(), depth(n));
            prop_assert!(proof.verify(root, n, index));
            if n > 1 {
                let other = (index + 1) % n;
                prop_assert!(!proof.verify(root, n, other));
            }
            prop_assert!(!proof.verify(root, n + 1, index) || depth(n + 1) == depth(n));
            let mut lied = cps.clone();
            lied[index].gas_used += 1;
            let forged = CheckpointProof::new(&base, &lied, index).expect("in range");
            prop_assert!(!forged.verify(root, n, index));
            prop_assert!(CheckpointProof::new(&base, &cps, n).is_none());
        }
    }
}
