//! The recorded witness against an independent minimal set: alloy-trie's `ProofRetainer`
//! over the whole pre-state, for the accounts a block of plain transfers must touch.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::{Address, B256, keccak256};
use alloy_trie::{HashBuilder, Nibbles, TrieAccount, proof::ProofRetainer};
use common::TestChain;
use native_challenger::execute_local::execute::record_trace;
use native_challenger::execute_local::l2::l2_system_contracts as system_contracts;
use std::collections::{BTreeMap, BTreeSet};

/// Hashed trie nodes alloy-trie retains on the paths to `targets` (plus the root).
fn minimal_nodes(leaves: &BTreeMap<B256, Vec<u8>>, targets: &BTreeSet<B256>) -> BTreeSet<B256> {
    let retainer = ProofRetainer::new(targets.iter().map(|k| Nibbles::unpack(k)).collect());
    let mut builder = HashBuilder::default().with_proof_retainer(retainer);
    for (key, value) in leaves {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    builder.root();
    let nodes = builder.take_proof_nodes().into_inner();
    nodes
        .into_iter()
        .filter(|(path, node)| path.is_empty() || node.len() >= 32)
        .map(|(_, node)| keccak256(&node))
        .collect()
}

#[test]
fn transfer_block_witness_equals_the_proof_set() {
    let mut chain = TestChain::with_background(2_000);
    let recipients: Vec<Address> = (0..12u8).map(|i| Address::repeat_byte(0xa0 + i)).collect();
    let txs =
        recipients.iter().enumerate().map(|(i, to)| chain.transfer(i % 4, *to, 1_000)).collect();
    let block = chain.block(1, txs);
    let (trace, _) =
        record_trace(&chain.store, &chain.rules, std::slice::from_ref(&block)).expect("trace");

    // The pre-state, encoded by alloy-trie's own account type.
    let mut accounts: BTreeMap<Address, TrieAccount> = chain
        .alloc
        .iter()
        .map(|(address, a)| {
            (*address, account(a.nonce, a.balance, keccak256(&a.code), storage_root(&a.storage)))
        })
        .collect();
    for (address, code) in system_contracts() {
        accounts.insert(
            address,
            account(1, Default::default(), keccak256(&code), alloy_trie::EMPTY_ROOT_HASH),
        );
    }
    let leaves: BTreeMap<B256, Vec<u8>> =
        accounts.iter().map(|(a, acc)| (keccak256(a), alloy_rlp::encode(acc))).collect();

    // What a block of transfers touches: senders, recipients, the fee recipient, the system
    // contracts of the EIP-4788/2935/7002/7251 calls.
    let mut touched: BTreeSet<Address> = recipients.iter().copied().collect();
    touched.extend(chain.keys.iter().map(alloy_signer::Signer::address));
    touched.insert(block.inputs.fee_recipient);
    // (revm runs system calls without loading the system caller account.)
    touched.extend(system_contracts().iter().map(|(a, _)| *a));
    let targets: BTreeSet<B256> = touched.iter().map(keccak256).collect();

    let minimal = minimal_nodes(&leaves, &targets);
    let recorded: BTreeSet<B256> = trace.witness.nodes.iter().map(keccak256).collect();
    let missing: Vec<_> = minimal.difference(&recorded).collect();
    let extra: Vec<_> = recorded.difference(&minimal).collect();
    assert!(missing.is_empty(), "recorded witness lacks {} proof nodes", missing.len());
    assert!(
        recorded.len() * 10 <= minimal.len() * 11,
        "recorded {} nodes, minimal {} ({} extra)",
        recorded.len(),
        minimal.len(),
        extra.len()
    );
    assert_eq!(
        recorded, minimal,
        "for inserts and updates only, the witness is exactly the proof set"
    );
}

fn account(
    nonce: u64,
    balance: alloy_primitives::U256,
    code_hash: B256,
    storage_root: B256,
) -> TrieAccount {
    TrieAccount { nonce, balance, storage_root, code_hash }
}

fn storage_root(storage: &BTreeMap<alloy_primitives::U256, alloy_primitives::U256>) -> B256 {
    let leaves: BTreeMap<B256, Vec<u8>> = storage
        .iter()
        .filter(|(_, v)| !v.is_zero())
        .map(|(k, v)| (keccak256(k.to_be_bytes::<32>()), alloy_rlp::encode(v)))
        .collect();
    let mut builder = HashBuilder::default();
    for (key, value) in &leaves {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    builder.root()
}
