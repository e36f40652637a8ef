//! Property tests against alloy-trie's `HashBuilder`, witness sufficiency and hostile input.

use super::tests::{committed, reference_root};
use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// A few fixed key "families": keys share a random-length nibble prefix with one of them, so
/// extensions form (and collapse) often.
const BASES: [[u8; 32]; 3] = [[0x00; 32], [0x5a; 32], [0xf3; 32]];

fn arb_key() -> impl Strategy<Value = B256> {
    (0usize..4, 0usize..=64, any::<[u8; 32]>()).prop_map(|(family, shared, random)| {
        let Some(base) = BASES.get(family) else {
            return B256::from(random);
        };
        let mut nibbles = Nibbles::unpack(random);
        for i in 0..shared.min(63) {
            let byte = base[i / 2];
            nibbles.set_at(i, if i % 2 == 0 { byte >> 4 } else { byte & 0x0f });
        }
        let mut out = [0u8; 32];
        nibbles.pack_to(&mut out);
        B256::from(out)
    })
}

/// Short values (embedded nodes deep down) and long ones (always hashed).
fn arb_value() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..4),
        prop::collection::vec(any::<u8>(), 30..80),
    ]
    .prop_map(Bytes::from)
}

#[derive(Debug, Clone)]
enum Op {
    Insert(B256, Bytes),
    Update(usize, Bytes),
    RemoveExisting(usize),
    RemoveAny(B256),
    Get(B256),
    CheckRoot,
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (arb_key(), arb_value()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (any::<usize>(), arb_value()).prop_map(|(i, v)| Op::Update(i, v)),
        4 => any::<usize>().prop_map(Op::RemoveExisting),
        1 => arb_key().prop_map(Op::RemoveAny),
        1 => arb_key().prop_map(Op::Get),
        1 => Just(Op::CheckRoot),
    ]
}

fn arb_entries(max: usize) -> impl Strategy<Value = BTreeMap<B256, Bytes>> {
    prop::collection::btree_map(arb_key(), arb_value(), 0..max)
}

/// Applies `ops` to `trie` (and to the model `expected`), checking values and intermediate roots.
fn apply(
    trie: &mut SparseTrie,
    src: &impl NodeSource,
    expected: &mut BTreeMap<B256, Bytes>,
    ops: &[Op],
) -> Result<(), TrieError> {
    for op in ops {
        let nth = |i: usize| expected.keys().nth(i % expected.len().max(1)).copied();
        match op.clone() {
            Op::Insert(k, v) => {
                trie.insert(src, &k, v.clone())?;
                expected.insert(k, v);
            }
            Op::Update(i, v) => {
                let Some(k) = nth(i) else { continue };
                trie.insert(src, &k, v.clone())?;
                expected.insert(k, v);
            }
            Op::RemoveExisting(i) => {
                let Some(k) = nth(i) else { continue };
                trie.remove(src, &k)?;
                expected.remove(&k);
            }
            Op::RemoveAny(k) => {
                trie.remove(src, &k)?;
                expected.remove(&k);
            }
            Op::Get(k) => assert_eq!(trie.get(src, &k)?, expected.get(&k).cloned()),
            Op::CheckRoot => assert_eq!(trie.root(), reference_root(expected)),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn inserts_match_hash_builder(entries in arb_entries(200)) {
        let (root, store) = committed(&entries);
        prop_assert_eq!(root, reference_root(&entries));
        // Every committed node is keyed by its hash, and the lazy trie sees every value.
        let mut lazy = SparseTrie::new(root);
        for (k, v) in &entries {
            prop_assert_eq!(lazy.get(&store, k).unwrap(), Some(v.clone()));
        }
    }

    #[test]
    fn lazy_updates_match_hash_builder(
        entries in arb_entries(40),
        ops in prop::collection::vec(arb_op(), 0..60),
    ) {
        let (root, mut store) = committed(&entries);
        let mut trie = SparseTrie::new(root);
        let mut expected = entries.clone();
        apply(&mut trie, &store, &mut expected, &ops).unwrap();
        let new_root = trie.root();
        prop_assert_eq!(new_root, reference_root(&expected));
        // The committed changes suffice to read the new trie from scratch.
        trie.commit(&mut |hash, rlp| store.insert_raw(hash, rlp));
        let mut reopened = SparseTrie::new(new_root);
        for (k, v) in &expected {
            prop_assert_eq!(reopened.get(&store, k).unwrap(), Some(v.clone()));
        }
        prop_assert_eq!(reopened.root(), new_root);
    }

    #[test]
    fn recorded_witness_suffices(
        entries in arb_entries(40),
        ops in prop::collection::vec(arb_op(), 0..40),
        drop_index in any::<usize>(),
    ) {
        let (root, store) = committed(&entries);
        let recorder = RecordingSource::new(&store);
        let mut trie = SparseTrie::new(root);
        let mut expected = entries.clone();
        apply(&mut trie, &recorder, &mut expected, &ops).unwrap();
        let new_root = trie.root();
        let recorded = recorder.into_recorded();
        let witness: MemNodes = recorded.values().cloned().collect();
        prop_assert_eq!(witness.len(), recorded.len());

        let mut replay = SparseTrie::new(root);
        let mut replay_expected = entries.clone();
        apply(&mut replay, &witness, &mut replay_expected, &ops).unwrap();
        prop_assert_eq!(replay.root(), new_root);

        if let Some(dropped) = recorded.keys().nth(drop_index % recorded.len().max(1)) {
            let mut partial = witness.clone();
            partial.remove_node(dropped);
            let mut replay = SparseTrie::new(root);
            let err = apply(&mut replay, &partial, &mut entries.clone(), &ops).unwrap_err();
            let is_dropped = matches!(err, TrieError::MissingNode { hash, .. } if hash == *dropped);
            prop_assert!(is_dropped, "unexpected error {:?}", err);
        }
    }

    #[test]
    fn arbitrary_root_node_never_panics(
        node in prop::collection::vec(any::<u8>(), 0..600),
        probe in arb_key(),
        value in arb_value(),
    ) {
        let mut store = MemNodes::new();
        let root = store.insert_node(node.into());
        let mut trie = SparseTrie::new(root);
        let _ = trie.get(&store, &probe);
        let _ = trie.insert(&store, &probe, value);
        let _ = trie.remove(&store, &probe);
        let _ = trie.root();
        trie.commit(&mut |_, _| {});
    }
}
