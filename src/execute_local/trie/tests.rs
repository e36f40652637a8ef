//! Unit tests: collapse cases and hostile nodes. Helpers shared with the property tests.

use super::node::Node;
use super::*;
use alloy_primitives::keccak256;
use alloy_rlp::{EMPTY_STRING_CODE, Encodable, Header};
use alloy_trie::HashBuilder;
use alloy_trie::nodes::{ExtensionNodeRef, LeafNodeRef};
use std::collections::BTreeMap;

/// Root of `entries` computed independently by alloy-trie's `HashBuilder`.
pub(super) fn reference_root(entries: &BTreeMap<B256, Bytes>) -> B256 {
    let mut builder = HashBuilder::default();
    for (key, value) in entries {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    builder.root()
}

/// Builds `entries` in a fresh trie and commits it into a new node store; returns (root, store).
pub(super) fn committed(entries: &BTreeMap<B256, Bytes>) -> (B256, MemNodes) {
    let mut trie = SparseTrie::new(EMPTY_ROOT_HASH);
    let empty = MemNodes::new();
    for (key, value) in entries {
        trie.insert(&empty, key, value.clone()).expect("insert into in-memory trie");
    }
    let mut store = MemNodes::new();
    trie.commit(&mut |hash, rlp| store.insert_raw(hash, rlp));
    (trie.root(), store)
}

/// A key whose first nibbles are `head`, the remaining ones `fill`.
pub(super) fn key(head: &[u8], fill: u8) -> B256 {
    let mut nibbles = [fill & 0x0f; 64];
    for (slot, nibble) in nibbles.iter_mut().zip(head) {
        *slot = nibble & 0x0f;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(nibbles.chunks(2)) {
        *byte = pair[0] << 4 | pair[1];
    }
    B256::from(out)
}

fn val(tag: u8) -> Bytes {
    Bytes::from(vec![tag; 40])
}

/// Opens `entries` lazily, removes `gone`, checks the root against the reference and returns
/// the resulting root node.
fn remove_lazily(entries: &[(B256, Bytes)], gone: &B256) -> Node {
    let mut map: BTreeMap<B256, Bytes> = entries.iter().cloned().collect();
    let (root, store) = committed(&map);
    let mut trie = SparseTrie::new(root);
    trie.remove(&store, gone).expect("remove");
    map.remove(gone);
    assert_eq!(trie.root(), reference_root(&map));
    for (k, v) in &map {
        assert_eq!(trie.get(&store, k).expect("get").as_ref(), Some(v));
    }
    trie.root
}

#[test]
fn remove_collapses_branch_into_leaf() {
    let (a, b) = (key(&[1], 3), key(&[2], 4));
    let root = remove_lazily(&[(a, val(1)), (b, val(2))], &b);
    assert!(matches!(&root, Node::Leaf(leaf) if leaf.key == Nibbles::unpack(a)));
}

#[test]
fn remove_collapses_branch_into_extension() {
    let (a, b, c) = (key(&[1], 0), key(&[2, 0xa, 0xb], 1), key(&[2, 0xa, 0xc], 1));
    let root = remove_lazily(&[(a, val(1)), (b, val(2)), (c, val(3))], &a);
    let expected = Nibbles::from_nibbles([2, 0xa]);
    assert!(matches!(&root, Node::Extension(ext) if ext.key == expected));
    // The surviving child is a branch: the collapse creates a one-nibble extension.
    let (d, e) = (key(&[2, 5], 1), key(&[2, 6], 1));
    let root = remove_lazily(&[(a, val(1)), (d, val(2)), (e, val(3))], &a);
    assert!(matches!(&root, Node::Extension(ext) if ext.key == Nibbles::from_nibbles([2])));
}

#[test]
fn remove_merges_extension_with_child_extension() {
    let x = key(&[0, 0, 1], 7);
    let y = key(&[0, 0, 2, 5, 3], 8);
    let z = key(&[0, 0, 2, 5, 4], 9);
    let w = key(&[1], 9);
    // Root branch {0: ext [0] -> branch {1: x, 2: ext [5] -> branch {3: y, 4: z}}, 1: w}.
    let root = remove_lazily(&[(x, val(1)), (y, val(2)), (z, val(3)), (w, val(4))], &x);
    let Node::Branch(branch) = &root else { panic!("root should stay a branch") };
    let expected = Nibbles::from_nibbles([0, 2, 5]);
    assert!(matches!(&branch.children[0], Node::Extension(ext) if ext.key == expected));
    // Same at the root: ext [0, 0] merges with the collapsed ext [2, 5].
    let root = remove_lazily(&[(x, val(1)), (y, val(2)), (z, val(3))], &x);
    let expected = Nibbles::from_nibbles([0, 0, 2, 5]);
    assert!(matches!(&root, Node::Extension(ext) if ext.key == expected));
}

#[test]
fn remove_absent_key_and_last_key() {
    let a = key(&[1], 3);
    let mut trie = SparseTrie::new(EMPTY_ROOT_HASH);
    let src = MemNodes::new();
    trie.remove(&src, &a).expect("remove from empty");
    trie.insert(&src, &a, val(1)).expect("insert");
    trie.remove(&src, &key(&[1], 4)).expect("remove absent");
    assert_eq!(trie.root(), reference_root(&[(a, val(1))].into_iter().collect()));
    trie.remove(&src, &a).expect("remove last");
    assert_eq!(trie.root(), EMPTY_ROOT_HASH);
}

#[test]
fn short_values_make_embedded_nodes() {
    // Keys sharing 62 nibbles: the leaves below the deep branch are shorter than 32 bytes.
    let head = [5u8; 62];
    let mut map = BTreeMap::new();
    for (i, tail) in [[0u8, 1], [0, 2], [3, 3]].iter().enumerate() {
        let mut nibbles = head.to_vec();
        nibbles.extend_from_slice(tail);
        map.insert(key(&nibbles, 0), Bytes::from(vec![i as u8 + 1]));
    }
    let (root, store) = committed(&map);
    assert_eq!(root, reference_root(&map));
    // ext(62) -> branch{0: embedded branch{1, 2: embedded leaves}, 3: embedded leaf}.
    assert_eq!(store.len(), 2, "only the root and the depth-62 branch are hashed");
    let mut trie = SparseTrie::new(root);
    let first = *map.keys().next().expect("non-empty");
    trie.remove(&store, &first).expect("remove");
    map.remove(&first);
    assert_eq!(trie.root(), reference_root(&map));
}

#[test]
fn commit_emits_only_changes_and_root() {
    let entries: BTreeMap<B256, Bytes> = (0..50u8).map(|i| (keccak256([i]), val(i))).collect();
    let (root, mut store) = committed(&entries);
    let mut trie = SparseTrie::new(root);
    let mut emitted = Vec::new();
    trie.commit(&mut |hash, _| emitted.push(hash));
    assert!(emitted.is_empty(), "unresolved root emits nothing");
    trie.insert(&store, &keccak256([0u8]), val(99)).expect("update");
    trie.commit(&mut |hash, rlp| {
        assert_eq!(hash, keccak256(&rlp));
        emitted.push(hash);
        store.insert_raw(hash, rlp);
    });
    assert!((2..=4).contains(&emitted.len()), "path nodes only: {}", emitted.len());
    assert!(emitted.contains(&trie.root()));
    let mut again = Vec::new();
    trie.commit(&mut |hash, _| again.push(hash));
    assert_eq!(again, vec![trie.root()], "clean trie emits only its root");
    let mut reopened = SparseTrie::new(trie.root());
    assert_eq!(reopened.get(&store, &keccak256([0u8])).expect("get"), Some(val(99)));
}

#[test]
fn empty_value_is_rejected() {
    let mut trie = SparseTrie::new(EMPTY_ROOT_HASH);
    let err = trie.insert(&MemNodes::new(), &B256::ZERO, Bytes::new());
    assert!(matches!(err, Err(TrieError::EmptyValue { .. })));
}

// ---------- hostile nodes ----------

/// Runs every operation on a trie rooted at `root` over `store`; returns the first error.
fn first_error(root: B256, store: &MemNodes) -> TrieError {
    let probe = key(&[1], 3);
    let mut trie = SparseTrie::new(root);
    let results = [
        trie.get(store, &probe).map(drop),
        trie.insert(store, &probe, val(1)),
        trie.remove(store, &probe),
    ];
    let _ = trie.root();
    results.into_iter().find_map(Result::err).expect("hostile node must be rejected")
}

fn list(items: &[&[u8]]) -> Vec<u8> {
    let payload: Vec<u8> = items.concat();
    let mut out = Vec::new();
    Header { list: true, payload_length: payload.len() }.encode(&mut out);
    out.extend(payload);
    out
}

fn leaf_rlp(nibbles: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    LeafNodeRef::new(&Nibbles::from_nibbles(nibbles), value).encode(&mut out);
    out
}

fn hash_ref(hash: &B256) -> Vec<u8> {
    alloy_rlp::encode(hash)
}

/// A store holding `node` as the root; returns (root, store).
fn rooted(node: &[u8]) -> (B256, MemNodes) {
    let mut store = MemNodes::new();
    let root = store.insert_node(Bytes::copy_from_slice(node));
    (root, store)
}

fn assert_invalid(node: &[u8]) {
    let (root, store) = rooted(node);
    let err = first_error(root, &store);
    assert!(matches!(err, TrieError::InvalidStructure { .. }), "{err:?}");
}

fn assert_malformed(node: &[u8]) {
    let (root, store) = rooted(node);
    let err = first_error(root, &store);
    assert!(matches!(err, TrieError::MalformedNode { .. }), "{err:?}");
}

#[test]
fn hostile_random_bytes_and_truncation() {
    assert_malformed(&[0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]);
    let good = leaf_rlp(&[1; 64], &[7; 40]);
    assert_malformed(&good[..good.len() - 1]);
    let mut trailing = good.clone();
    trailing.push(0x80);
    assert_malformed(&trailing);
    assert_malformed(&[EMPTY_STRING_CODE + 3, 1, 2, 3]);
}

#[test]
fn hostile_paths_of_wrong_length() {
    assert_invalid(&leaf_rlp(&[1; 63], &[7; 40]));
    let deep_leaf = leaf_rlp(&[1; 64], &[7; 40]);
    let other = leaf_rlp(&[2; 63], &[7; 40]);
    let refs = [hash_ref(&keccak256(&deep_leaf)), hash_ref(&keccak256(&other))];
    let mut items: Vec<&[u8]> = vec![&[EMPTY_STRING_CODE]; 17];
    items[1] = &refs[0];
    items[2] = &refs[1];
    let branch = list(&items);
    let (root, mut store) = rooted(&branch);
    store.insert_node(deep_leaf.into());
    store.insert_node(other.into());
    // The probe key starts with nibble 1: reaches the 65-nibble leaf.
    let err = first_error(root, &store);
    assert!(matches!(err, TrieError::InvalidStructure { .. }), "{err:?}");
    // Extension reaching nibble 64.
    let mut ext = Vec::new();
    ExtensionNodeRef::new(&Nibbles::from_nibbles([1; 64]), &refs[1]).encode(&mut ext);
    assert_invalid(&ext);
}

#[test]
fn hostile_shapes() {
    let leaf = leaf_rlp(&[2; 63], &[7; 40]);
    let child = hash_ref(&keccak256(&leaf));
    // Branch with a single child.
    let mut items: Vec<&[u8]> = vec![&[EMPTY_STRING_CODE]; 17];
    items[1] = &child;
    assert_invalid(&list(&items));
    // Branch with a value.
    items[2] = &child;
    items[16] = &[0x01];
    assert_malformed(&list(&items));
    // Extension with an empty key, and extension leading to a leaf (hashed).
    let mut ext = Vec::new();
    ExtensionNodeRef::new(&Nibbles::new(), &child).encode(&mut ext);
    assert_invalid(&ext);
    let mut ext = Vec::new();
    ExtensionNodeRef::new(&Nibbles::from_nibbles([1]), &child).encode(&mut ext);
    let (root, mut store) = rooted(&ext);
    store.insert_node(leaf.into());
    assert!(matches!(first_error(root, &store), TrieError::InvalidStructure { .. }));
    // Hash-referenced node shorter than 32 bytes.
    let short = leaf_rlp(&[2; 2], &[7]);
    let refs = [hash_ref(&keccak256(&short)), child.clone()];
    let mut items: Vec<&[u8]> = vec![&[EMPTY_STRING_CODE]; 17];
    items[1] = &refs[0];
    items[2] = &refs[1];
    let (root, mut store) = rooted(&list(&items));
    store.insert_node(short.into());
    assert!(matches!(first_error(root, &store), TrieError::MalformedNode { .. }));
}

#[test]
fn hostile_wrong_hash_and_missing_node() {
    let entries: BTreeMap<B256, Bytes> = (0..20u8).map(|i| (keccak256([i]), val(i))).collect();
    let (root, store) = committed(&entries);
    let mut wrong = MemNodes::new();
    let bytes = store.0.get(&root).cloned().expect("root stored");
    wrong.insert_raw(root, Bytes::from([bytes.as_ref(), &[0u8]].concat()));
    assert!(matches!(first_error(root, &wrong), TrieError::HashMismatch { .. }));
    let mut swapped = MemNodes::new();
    let other = store.0.iter().find(|(h, _)| **h != root).map(|(_, b)| b.clone());
    swapped.insert_raw(root, other.expect("two nodes"));
    assert!(matches!(first_error(root, &swapped), TrieError::HashMismatch { .. }));
    let err = first_error(root, &MemNodes::new());
    assert_eq!(err, TrieError::MissingNode { hash: root, path: Nibbles::new() });
}
