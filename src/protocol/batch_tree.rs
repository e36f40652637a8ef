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

use super::codec::word;
use super::header::{Checkpoint, Cut, L2Header};
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

/// One leaf of a batch's tree (docs/protocol.md, "Checkpoints"): a block's header, or a cut
/// inside a block (the state after segment `segment`, which does not end the block). A
/// block's cuts come before its header, so the leaf before a block's first is the previous
/// block's header, and the leaf before segment `k > 0`'s is cut `k - 1` of the same block.
/// The ABI `Leaf` of the contract's `challenge`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leaf {
    /// The block's parent hash, number and input commitment (a cut's are its block's).
    pub parent_hash: B256,
    pub number: u64,
    pub input_commitment: B256,
    /// A cut's segment and end; zero for a header.
    pub segment: u16,
    pub end_tx: u32,
    pub state_root: B256,
    pub gas_used: u64,
    pub cut: bool,
}

impl Leaf {
    /// The leaf of a block's header.
    pub fn of_header(header: &L2Header) -> Self {
        Self {
            parent_hash: header.parent_hash,
            number: header.number,
            input_commitment: header.input_commitment,
            state_root: header.state_root,
            gas_used: header.gas_used,
            ..Self::default()
        }
    }

    /// The leaf of cut `segment` of the block whose header is `block`.
    pub fn of_cut(block: &L2Header, segment: u16, cut: &Cut) -> Self {
        Self {
            parent_hash: block.parent_hash,
            number: block.number,
            input_commitment: block.input_commitment,
            segment,
            end_tx: cut.end_tx,
            state_root: cut.state_root,
            gas_used: cut.gas_used,
            cut: true,
        }
    }

    /// The header a non-cut leaf stands for.
    pub fn header(&self) -> L2Header {
        L2Header {
            parent_hash: self.parent_hash,
            number: self.number,
            input_commitment: self.input_commitment,
            state_root: self.state_root,
            gas_used: self.gas_used,
        }
    }

    /// A header's leaf is its block hash (5 words hashed); a cut's is the hash of 7 words
    /// (parent hash, number, input commitment, segment, end, state root, gas used), so no cut
    /// can pass for a header, and neither for an inner node (2 words).
    pub fn hash(&self) -> B256 {
        if !self.cut {
            return self.header().block_hash();
        }
        let words = [
            self.parent_hash.0,
            word(self.number),
            self.input_commitment.0,
            word(u64::from(self.segment)),
            word(u64::from(self.end_tx)),
            self.state_root.0,
            word(self.gas_used),
        ];
        keccak256(words.concat())
    }
}

/// The leaves of a batch whose headers ([`batch_headers`]) are `headers` and whose cuts are
/// `cuts` (`cuts[i]`: block `i`'s, in order; missing entries are no cuts).
pub fn batch_leaves(headers: &[L2Header], cuts: &[Vec<Cut>]) -> Vec<Leaf> {
    let mut leaves = Vec::with_capacity(headers.len());
    for (i, header) in headers.iter().enumerate() {
        let block_cuts = cuts.get(i).map(Vec::as_slice).unwrap_or_default();
        for (segment, cut) in (0u16..).zip(block_cuts) {
            leaves.push(Leaf::of_cut(header, segment, cut));
        }
        leaves.push(Leaf::of_header(header));
    }
    leaves
}

/// Index in the batch's leaves of segment `segment` of block `block`, under `cuts`.
pub fn leaf_index(cuts: &[Vec<Cut>], block: usize, segment: usize) -> usize {
    cuts.iter().take(block).map(|c| c.len() + 1).sum::<usize>() + segment
}

/// The root the contract stores for a batch of `checkpoints` and `cuts` on `base`.
pub fn checkpoints_root(base: &L2Header, checkpoints: &[Checkpoint], cuts: &[Vec<Cut>]) -> B256 {
    leaves_root(&batch_leaves(&batch_headers(base, checkpoints), cuts))
}

/// The root of a batch's leaves.
pub fn leaves_root(leaves: &[Leaf]) -> B256 {
    merkle_root(&hashes(leaves))
}

/// What a challenge of leaf `index` of a batch carries to locate it: the claimed leaf and its
/// path, and the leaf before it (the agreed start) with its path; for the batch's first leaf,
/// the header before the batch, which needs no path (its hash is the claimed block's parent
/// hash).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointProof {
    pub index: usize,
    pub prev: Leaf,
    pub prev_path: Vec<B256>,
    pub claimed: Leaf,
    pub path: Vec<B256>,
}

/// Where a segment starts and from which state: what the contract derives from the leaf
/// before the claimed one, and checks the trace against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentOrigin {
    pub segment: u16,
    pub start_tx: u32,
    pub gas_before: u64,
    pub pre_state_root: B256,
}

impl CheckpointProof {
    /// The proof for leaf `index` of the batch of `checkpoints` and `cuts` on `base`; `None`
    /// if there is no such leaf.
    pub fn new(
        base: &L2Header,
        checkpoints: &[Checkpoint],
        cuts: &[Vec<Cut>],
        index: usize,
    ) -> Option<Self> {
        Self::from_leaves(base, &batch_leaves(&batch_headers(base, checkpoints), cuts), index)
    }

    /// The proof for leaf `index` of the batch of `leaves` on `base`; `None` if there is no
    /// such leaf.
    pub fn from_leaves(base: &L2Header, leaves: &[Leaf], index: usize) -> Option<Self> {
        let claimed = *leaves.get(index)?;
        let all = hashes(leaves);
        let path = merkle_path(&all, index)?;
        let (prev, prev_path) = match index.checked_sub(1) {
            Some(before) => (*leaves.get(before)?, merkle_path(&all, before)?),
            None => (Leaf::of_header(base), Vec::new()),
        };
        Some(Self { index, prev, prev_path, claimed, path })
    }

    /// The contract's checks of a challenge's location in a batch of `count` leaves under
    /// `root`; the segment's origin if they pass.
    pub fn verify(&self, root: B256, count: usize) -> Option<SegmentOrigin> {
        if !verify_path(root, count, self.index, self.claimed.hash(), &self.path) {
            return None;
        }
        let prev = &self.prev;
        if self.index == 0 {
            if !self.prev_path.is_empty() || prev.cut {
                return None;
            }
        } else if !verify_path(root, count, self.index - 1, prev.hash(), &self.prev_path) {
            return None;
        }
        if !prev.cut && (prev.segment != 0 || prev.end_tx != 0) {
            return None;
        }
        if prev.cut {
            let same_block = (prev.parent_hash, prev.number, prev.input_commitment)
                == (self.claimed.parent_hash, self.claimed.number, self.claimed.input_commitment);
            let segment = prev.segment.checked_add(1)?;
            return same_block.then_some(SegmentOrigin {
                segment,
                start_tx: prev.end_tx,
                gas_before: prev.gas_used,
                pre_state_root: prev.state_root,
            });
        }
        (prev.hash() == self.claimed.parent_hash).then_some(SegmentOrigin {
            pre_state_root: prev.state_root,
            ..SegmentOrigin::default()
        })
    }

    /// Where the claimed leaf's segment starts, as the contract derives it from the previous
    /// leaf (without checking the paths: see [`Self::verify`]).
    pub fn origin(&self) -> SegmentOrigin {
        let prev = &self.prev;
        if prev.cut {
            SegmentOrigin {
                segment: prev.segment.saturating_add(1),
                start_tx: prev.end_tx,
                gas_before: prev.gas_used,
                pre_state_root: prev.state_root,
            }
        } else {
            SegmentOrigin { pre_state_root: prev.state_root, ..SegmentOrigin::default() }
        }
    }
}

fn hashes(leaves: &[Leaf]) -> Vec<B256> {
    leaves.iter().map(Leaf::hash).collect()
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

    fn cuts(n: usize, per_block: &[usize], seed: u8) -> Vec<Vec<Cut>> {
        (0..n)
            .map(|i| {
                (0..per_block.get(i).copied().unwrap_or(0))
                    .map(|k| Cut {
                        end_tx: 1 + k as u32,
                        state_root: keccak256([seed, i as u8, k as u8, 3]),
                        gas_used: 1_000 * k as u64,
                    })
                    .collect()
            })
            .collect()
    }

    fn leaves_of(base: &L2Header, cps: &[Checkpoint], cuts: &[Vec<Cut>]) -> Vec<Leaf> {
        batch_leaves(&batch_headers(base, cps), cuts)
    }

    #[test]
    fn the_root_of_one_block_is_its_hash_and_its_path_is_empty() {
        let base = L2Header::genesis(B256::repeat_byte(9));
        let cps = checkpoints(1, 0);
        let headers = batch_headers(&base, &cps);
        let root = checkpoints_root(&base, &cps, &[]);
        assert_eq!(root, headers[0].block_hash());
        let proof =
            CheckpointProof::from_leaves(&base, &leaves_of(&base, &cps, &[]), 0).expect("block 0");
        assert!(proof.path.is_empty() && proof.prev_path.is_empty());
        assert_eq!(proof.prev, Leaf::of_header(&base));
        let origin = proof.verify(root, 1).expect("verifies");
        assert_eq!(origin, SegmentOrigin { pre_state_root: base.state_root, ..Default::default() });
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

    #[test]
    fn a_block_s_cuts_precede_its_header_and_start_its_next_segments() {
        let base = L2Header::genesis(B256::repeat_byte(7));
        let cps = checkpoints(2, 4);
        let cuts = cuts(2, &[0, 2], 4);
        let leaves = leaves_of(&base, &cps, &cuts);
        assert_eq!(leaves.len(), 4);
        assert_eq!(leaf_index(&cuts, 1, 0), 1);
        assert_eq!(leaf_index(&cuts, 1, 2), 3);
        assert!(!leaves[0].cut && leaves[1].cut && leaves[2].cut && !leaves[3].cut);
        assert_eq!(leaves[2].segment, 1);
        let root = leaves_root(&leaves);
        // Segment 0 of block 1 starts after block 0's header; segment 2 after cut 1.
        let first = CheckpointProof::from_leaves(&base, &leaves, 1).expect("leaf 1");
        let origin = first.verify(root, 4).expect("verifies");
        assert_eq!(
            origin,
            SegmentOrigin { pre_state_root: cps[0].post_state_root, ..Default::default() }
        );
        let last = CheckpointProof::from_leaves(&base, &leaves, 3).expect("leaf 3");
        let origin = last.verify(root, 4).expect("verifies");
        assert_eq!(
            origin,
            SegmentOrigin {
                segment: 2,
                start_tx: cuts[1][1].end_tx,
                gas_before: cuts[1][1].gas_used,
                pre_state_root: cuts[1][1].state_root,
            }
        );
        // A cut is no header: the same fields hash differently.
        let mut as_header = leaves[1];
        as_header.cut = false;
        assert_ne!(as_header.hash(), leaves[1].hash());
        // The previous leaf must be the one right before, of the same block.
        let mut skipped = last.clone();
        skipped.prev = leaves[1];
        skipped.prev_path = merkle_path(&hashes(&leaves), 1).expect("leaf 1");
        assert_eq!(skipped.verify(root, 4), None);
    }

    proptest! {
        /// Every leaf of every batch (up to the contract's 64 blocks, with random cuts) proves
        /// into its root with paths of ⌈log2 n⌉ siblings, and its origin is the end of the
        /// leaf before it; a changed leaf, another index or a shifted previous leaf does not.
        #[test]
        fn every_leaf_proves_into_its_batch_root_and_nothing_else_does(
            n in 1usize..=64,
            per_block in prop::collection::vec(0usize..4, 64),
            pick in any::<prop::sample::Index>(),
            seed in any::<u8>(),
        ) {
            let base = L2Header::genesis(keccak256([seed]));
            let cps = checkpoints(n, seed);
            let cuts = cuts(n, &per_block, seed);
            let leaves = leaves_of(&base, &cps, &cuts);
            let count = leaves.len();
            let root = checkpoints_root(&base, &cps, &cuts);
            let index = pick.index(count);
            let proof = CheckpointProof::from_leaves(&base, &leaves, index).expect("in range");
            prop_assert_eq!(proof.path.len(), depth(count));
            let origin = proof.verify(root, count);
            prop_assert_eq!(origin, Some(proof.origin()));
            let prev = if index == 0 { Leaf::of_header(&base) } else { leaves[index - 1] };
            prop_assert_eq!(origin.map(|o| o.pre_state_root), Some(prev.state_root));
            if count > 1 {
                let other = CheckpointProof { index: (index + 1) % count, ..proof.clone() };
                prop_assert_eq!(other.verify(root, count), None);
            }
            let mut lied = proof.clone();
            lied.claimed.gas_used += 1;
            prop_assert_eq!(lied.verify(root, count), None);
            prop_assert!(CheckpointProof::from_leaves(&base, &leaves, count).is_none());
        }
    }
}
