//! Structured fuzzing with hostile node graphs: random leaves, extensions and branches with
//! random path lengths (also beyond 64 nibbles), values, child references (hashes of other
//! generated nodes, embedded nodes, garbage) over a two-nibble alphabet, so that probe keys
//! made of the same nibbles walk deep into the graph. Every operation must return, never panic.

use super::tests::committed;
use super::*;
use alloy_primitives::keccak256;
use alloy_rlp::{EMPTY_STRING_CODE, Header};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone)]
enum Child {
    /// Hash of the generated node with this (relative) index.
    Ref(usize),
    /// The generated node with this (relative) index, embedded.
    Inline(usize),
    /// Arbitrary bytes as the child item.
    Raw(Vec<u8>),
}

#[derive(Debug, Clone)]
enum Spec {
    Leaf(Vec<u8>, Vec<u8>),
    Extension(Vec<u8>, Child),
    Branch(Vec<(u8, Child)>, Vec<u8>),
}

fn arb_nibbles() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(0u8..2, 0..8),
        prop::collection::vec(0u8..2, 55..70),
        (58usize..65).prop_map(|n| vec![1; n]),
        prop::collection::vec(0u8..16, 0..70),
    ]
}

fn arb_child() -> impl Strategy<Value = Child> {
    prop_oneof![
        4 => (0usize..8).prop_map(Child::Ref),
        2 => (0usize..8).prop_map(Child::Inline),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Child::Raw),
    ]
}

fn arb_spec() -> impl Strategy<Value = Spec> {
    let value = prop::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        (arb_nibbles(), value.clone()).prop_map(|(k, v)| Spec::Leaf(k, v)),
        (arb_nibbles(), arb_child()).prop_map(|(k, c)| Spec::Extension(k, c)),
        (prop::collection::vec((0u8..17, arb_child()), 0..5), prop::option::weighted(0.1, value))
            .prop_map(|(c, v)| Spec::Branch(c, v.unwrap_or_default())),
    ]
}

/// Hex-prefix encoding of arbitrary-length nibble paths (not limited to 64).
fn compact(nibbles: &[u8], leaf: bool) -> Vec<u8> {
    let flag = if leaf { 0x20 } else { 0x00 };
    let (mut out, rest) = match nibbles.split_first() {
        Some((first, rest)) if nibbles.len() % 2 == 1 => (vec![flag | 0x10 | first], rest),
        _ => (vec![flag], nibbles),
    };
    out.extend(rest.chunks(2).map(|p| p[0] << 4 | p.get(1).copied().unwrap_or(0)));
    out
}

fn list(items: &[Vec<u8>]) -> Vec<u8> {
    let payload = items.concat();
    let mut out = Vec::new();
    Header { list: true, payload_length: payload.len() }.encode(&mut out);
    out.extend(payload);
    out
}

fn string(bytes: &[u8]) -> Vec<u8> {
    alloy_rlp::encode(bytes)
}

/// Encodes the specs back to front, so a node may reference the ones after it.
fn encode_all(specs: &[Spec]) -> Vec<Vec<u8>> {
    let mut encoded: Vec<Vec<u8>> = vec![Vec::new(); specs.len()];
    for i in (0..specs.len()).rev() {
        let child = |c: &Child| -> Vec<u8> {
            match c {
                Child::Ref(k) => match encoded.get(i + 1 + k) {
                    Some(node) => alloy_rlp::encode(keccak256(node)),
                    None => alloy_rlp::encode(keccak256([*k as u8])),
                },
                Child::Inline(k) => encoded.get(i + 1 + k).cloned().unwrap_or(vec![0xc0]),
                Child::Raw(bytes) => bytes.clone(),
            }
        };
        let node = match &specs[i] {
            Spec::Leaf(k, v) => list(&[string(&compact(k, true)), string(v)]),
            Spec::Extension(k, c) => list(&[string(&compact(k, false)), child(c)]),
            Spec::Branch(children, value) => {
                let mut items = vec![vec![EMPTY_STRING_CODE]; 17];
                for (slot, c) in children {
                    items[usize::from(*slot)] = child(c);
                }
                items[16] = string(value);
                list(&items)
            }
        };
        encoded[i] = node;
    }
    encoded
}

fn probe_key(nibbles: &[u8]) -> B256 {
    let mut out = [0u8; 32];
    for (i, n) in nibbles.iter().take(64).enumerate() {
        out[i / 2] |= if i % 2 == 0 { n << 4 } else { *n };
    }
    B256::from(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn hostile_node_graphs_never_panic(
        specs in prop::collection::vec(arb_spec(), 1..8),
        probes in prop::collection::vec(prop::collection::vec(0u8..2, 64), 1..4),
        value in prop::collection::vec(any::<u8>(), 1..40),
    ) {
        let encoded = encode_all(&specs);
        let store: MemNodes = encoded.iter().cloned().map(Bytes::from).collect();
        let root = keccak256(&encoded[0]);
        let mut trie = SparseTrie::new(root);
        for probe in &probes {
            let key = probe_key(probe);
            let _ = trie.get(&store, &key);
            let _ = trie.insert(&store, &key, value.clone().into());
            let _ = trie.root();
            let _ = trie.remove(&store, &key);
            let _ = trie.root();
        }
        trie.commit(&mut |hash, rlp| assert_eq!(hash, keccak256(&rlp)));
    }
}

/// Replaces `node` (hash `old`) by `bytes` and re-hashes every ancestor up to the root, so the
/// mutated node is reachable from the new root. Returns the new root.
fn replace_node(store: &mut HashMap<B256, Bytes>, root: B256, old: B256, bytes: Vec<u8>) -> B256 {
    let new = keccak256(&bytes);
    store.insert(new, bytes.into());
    if old == root {
        return new;
    }
    let parents: Vec<(B256, Bytes)> = store
        .iter()
        .filter(|(_, rlp)| rlp.windows(32).any(|w| w == old.as_slice()))
        .map(|(h, rlp)| (*h, rlp.clone()))
        .collect();
    let mut new_root = root;
    for (hash, rlp) in parents {
        let mut patched = rlp.to_vec();
        if let Some(at) = patched.windows(32).position(|w| w == old.as_slice()) {
            patched[at..at + 32].copy_from_slice(new.as_slice());
        }
        new_root = replace_node(store, root, hash, patched);
    }
    new_root
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Append(u8),
    Replace(Spec),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<u8>().prop_map(Mutation::Append),
        arb_spec().prop_map(Mutation::Replace),
    ]
}

fn mutate(rlp: &[u8], mutation: &Mutation) -> Vec<u8> {
    let mut out = rlp.to_vec();
    match mutation {
        Mutation::Flip(i, x) => {
            let len = out.len().max(1);
            if let Some(b) = out.get_mut(i % len) {
                *b ^= x;
            }
        }
        Mutation::Truncate(i) => out.truncate(i % out.len().max(1)),
        Mutation::Append(b) => out.push(*b),
        Mutation::Replace(spec) => out = encode_all(std::slice::from_ref(spec)).concat(),
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// A valid trie with one node corrupted (ancestors re-hashed so it is reachable): operations
    /// on keys of the trie walk into the corrupted node and must fail cleanly or succeed.
    #[test]
    fn corrupted_valid_trie_never_panics(
        entries in prop::collection::btree_map(any::<[u8; 32]>(), prop::collection::vec(any::<u8>(), 1..50), 1..30),
        victim in any::<usize>(),
        mutation in arb_mutation(),
        value in prop::collection::vec(any::<u8>(), 1..40),
    ) {
        let entries: BTreeMap<B256, Bytes> =
            entries.into_iter().map(|(k, v)| (B256::from(k), Bytes::from(v))).collect();
        let (root, store) = committed(&entries);
        let mut nodes = store.0.clone();
        let mut hashes: Vec<B256> = nodes.keys().copied().collect();
        hashes.sort();
        let old = hashes[victim % hashes.len()];
        let bytes = mutate(&nodes[&old], &mutation);
        let root = replace_node(&mut nodes, root, old, bytes);
        let store = MemNodes(nodes);
        let mut trie = SparseTrie::new(root);
        for key in entries.keys() {
            let _ = trie.get(&store, key);
            let _ = trie.insert(&store, key, value.clone().into());
            let _ = trie.remove(&store, key);
        }
        let _ = trie.root();
        trie.commit(&mut |hash, rlp| assert_eq!(hash, keccak256(&rlp)));
    }
}
