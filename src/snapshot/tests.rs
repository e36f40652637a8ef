use super::export::snapshot_at;
use super::format::{FormatError, Snapshot};
use super::verify::{Anchor, verify};
use crate::execute_local::commit::BlockWrite;
use crate::execute_local::replay::GenesisAccount;
use crate::execute_local::store::{StateImport, StateStore, StoreError};
use crate::execute_local::tries::{AccountBasics, AccountChange, StateDiff, StateTries};
use crate::protocol::L2Header;
use crate::rollup::L2Genesis;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};

const CHAIN: u64 = 901;
const ROLLUP: Address = Address::new([0x77; 20]);
const HOLDER: Address = Address::new([0x42; 20]);

/// A store at the genesis: the dev allocation plus a contract with storage.
fn genesis_store(dir: &tempfile::TempDir, name: &str) -> StateStore {
    let users = [Address::new([0x11; 20]), Address::new([0x12; 20])];
    let mut genesis = L2Genesis::dev(CHAIN, 1_700_000_000, &users);
    let storage = [(U256::from(1), U256::from(7)), (U256::from(0xfeed), U256::MAX)];
    genesis.alloc.insert(
        HOLDER,
        GenesisAccount {
            nonce: 1,
            balance: U256::from(5),
            code: Bytes::from_static(&[0x60, 0x00, 0x54, 0x00]),
            storage: storage.into_iter().collect(),
        },
    );
    let store = StateStore::open(&dir.path().join(name)).expect("open");
    genesis.init_store(&store).expect("genesis");
    store
}

/// Commits one block on the head that changes a balance and a slot and adds an account.
fn commit_change(store: &StateStore) {
    let head = store.head().expect("head").expect("initialised");
    let holder = store.account(&HOLDER).expect("read").expect("holder");
    let diff = StateDiff {
        accounts: vec![
            AccountChange {
                address: HOLDER,
                basics: Some(AccountBasics {
                    nonce: holder.nonce,
                    balance: holder.balance + U256::from(1),
                    code_hash: holder.code_hash,
                }),
                wiped: false,
                storage: vec![(U256::from(1), U256::from(8)), (U256::from(2), U256::from(9))],
            },
            AccountChange {
                address: Address::new([0x99; 20]),
                basics: Some(AccountBasics {
                    nonce: 0,
                    balance: U256::from(3),
                    code_hash: alloy_primitives::KECCAK256_EMPTY,
                }),
                wiped: false,
                storage: Vec::new(),
            },
        ],
        codes: Vec::new(),
    };
    let mut tries = StateTries::new(head.state_root);
    let root = tries.apply(store, &diff).expect("root");
    let mut nodes = Vec::new();
    tries.commit(&mut |hash, node| nodes.push((hash, node)));
    let header = L2Header {
        parent_hash: head.hash,
        number: head.number + 1,
        input_commitment: keccak256(head.number.to_be_bytes()),
        state_root: root,
        gas_used: 21_000,
    };
    store
        .commit_block(BlockWrite {
            number: header.number,
            hash: header.block_hash(),
            header: &header.encode(),
            state_root: root,
            diff: &diff,
            nodes: &nodes,
            body: &[],
        })
        .expect("commit");
}

/// The anchor L1 would give for the store's block `number`.
fn anchor_of(store: &StateStore, number: u64) -> Anchor {
    let (hash, bytes) = store.header(number).expect("read").expect("header");
    let header = L2Header::decode(&bytes).expect("header decodes");
    Anchor {
        chain_id: CHAIN,
        rollup: ROLLUP,
        batch_id: 3,
        last_block: number,
        last_block_hash: hash,
        last_state_root: header.state_root,
    }
}

fn export(store: &StateStore, number: u64) -> Snapshot {
    snapshot_at(store, number, CHAIN, ROLLUP, 3).expect("export")
}

fn import(store: &StateStore, snapshot: &Snapshot, anchor: &Anchor) -> Result<(), StoreError> {
    let v = verify(snapshot, anchor).expect("verifies");
    let import = StateImport {
        base: v.base,
        head: v.head,
        headers: &v.headers,
        diff: &v.diff,
        nodes: &v.nodes,
    };
    store.import_state(import).map(|_| ())
}

/// The refusal reason of `snapshot` against `anchor`.
fn refusal(snapshot: &Snapshot, anchor: &Anchor) -> String {
    match verify(snapshot, anchor) {
        Ok(_) => panic!("a bad snapshot was accepted"),
        Err(reason) => reason,
    }
}

#[test]
fn a_snapshot_round_trips_through_its_file_and_into_a_fresh_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = genesis_store(&dir, "a");
    commit_change(&store);
    commit_change(&store);
    let snapshot = export(&store, 2);
    let bytes = snapshot.encode();
    assert_eq!(Snapshot::decode(&bytes).expect("decodes"), snapshot);
    assert_eq!(snapshot.headers.len(), 3, "the head and its two ancestors");
    let fresh = StateStore::open(&dir.path().join("b")).expect("open");
    import(&fresh, &snapshot, &anchor_of(&store, 2)).expect("import");
    assert_eq!(fresh.head().expect("head"), store.head().expect("head"));
    let base = fresh.snapshot_base().expect("base").expect("marked");
    assert_eq!((base.batch_id, base.number), (3, 2));
    for n in 0..=2 {
        assert_eq!(fresh.header(n).expect("read"), store.header(n).expect("read"));
    }
    // Every account, slot and code reads back the same.
    let mut accounts = 0;
    store
        .for_each_account(|address, account| {
            accounts += 1;
            assert_eq!(fresh.account(&address)?, Some(account), "{address}");
            assert_eq!(fresh.storage_of(&address)?, store.storage_of(&address)?, "{address}");
            assert_eq!(fresh.code(&account.code_hash)?, store.code(&account.code_hash)?);
            Ok::<(), StoreError>(())
        })
        .expect("walk");
    assert_eq!(accounts, snapshot.accounts.len());
    assert_eq!(fresh.storage(&HOLDER, &U256::from(2)).expect("slot"), U256::from(9));
    // The imported trie serves the next block: the same change gives the same root.
    commit_change(&store);
    commit_change(&fresh);
    assert_eq!(fresh.head().expect("head"), store.head().expect("head"));
}

#[test]
fn a_block_below_the_head_is_exported_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = genesis_store(&dir, "a");
    commit_change(&store);
    let at_one = export(&store, 1);
    commit_change(&store);
    commit_change(&store);
    assert_eq!(export(&store, 1), at_one, "read through the undo records of blocks 2 and 3");
    let moved = export(&store, 3);
    assert_ne!(moved.accounts, at_one.accounts);
    verify(&at_one, &anchor_of(&store, 1)).expect("block 1's root");
}

#[test]
fn a_block_not_replayed_yet_cannot_be_exported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = genesis_store(&dir, "a");
    let err = snapshot_at(&store, 5, CHAIN, ROLLUP, 3).expect_err("not replayed yet");
    assert!(err.to_string().contains("not replayed yet"), "{err}");
}

#[test]
fn a_truncated_file_is_refused_wherever_it_is_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = genesis_store(&dir, "a");
    commit_change(&store);
    let bytes = export(&store, 1).encode();
    for len in (0..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
        let err = Snapshot::decode(&bytes[..len]).expect_err("truncated");
        assert!(
            matches!(err, FormatError::Truncated { .. } | FormatError::BadMagic),
            "cut at {len}: {err}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(Snapshot::decode(&longer), Err(FormatError::Trailing(1)));
}

#[test]
fn a_flipped_byte_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = genesis_store(&dir, "a");
    let snapshot = export(&store, 0);
    let bytes = snapshot.encode();
    // Every byte of the body and checksum: whatever it hits, the file is refused.
    for at in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        assert!(Snapshot::decode(&bad).is_err(), "byte {at} flipped and accepted");
    }
    // A flipped balance byte parses, so the checksum is what catches it.
    let mut bad = bytes.clone();
    // Preamble, header count, the one header, account count.
    let first_account = 46 + 4 + 160 + 8;
    bad[first_account + 20 + 8 + 31] ^= 0x80;
    assert!(matches!(Snapshot::decode(&bad), Err(FormatError::Checksum { .. })));
    assert!(matches!(
        Snapshot::decode(b"not a snapshot at all, just text"),
        Err(FormatError::BadMagic)
    ));
}

#[test]
fn a_root_other_than_the_finalized_one_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = genesis_store(&dir, "a");
    commit_change(&store);
    let snapshot = export(&store, 1);
    let mut anchor = anchor_of(&store, 1);
    anchor.last_state_root = B256::repeat_byte(0xab);
    let reason = refusal(&snapshot, &anchor);
    assert!(reason.contains("the rollup finalized"), "{reason}");
    let mut anchor = anchor_of(&store, 1);
    anchor.last_block_hash = B256::repeat_byte(0xcd);
    assert!(refusal(&snapshot, &anchor).contains("hashes to"));
    let mut anchor = anchor_of(&store, 1);
    anchor.chain_id += 1;
    assert!(refusal(&snapshot, &anchor).contains("chain"));
}

#[test]
fn a_changed_slot_gives_another_root_and_is_refused_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = genesis_store(&dir, "a");
    commit_change(&store);
    let anchor = anchor_of(&store, 1);
    let mut snapshot = export(&store, 1);
    let holder = snapshot.accounts.iter_mut().find(|a| a.address == HOLDER).expect("holder");
    holder.storage[0].1 += U256::from(1);
    // Re-encoded, so the checksum is right: only the root can catch it.
    let snapshot = Snapshot::decode(&snapshot.encode()).expect("well-formed");
    let reason = refusal(&snapshot, &anchor);
    assert!(reason.starts_with("the state in the file has root"), "{reason}");
    assert!(reason.contains(&anchor.last_state_root.to_string()), "{reason}");
}

#[test]
fn a_missing_or_unused_code_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = genesis_store(&dir, "a");
    let anchor = anchor_of(&store, 0);
    let snapshot = export(&store, 0);
    let holder = snapshot.accounts.iter().find(|a| a.address == HOLDER).expect("holder");
    let mut missing = snapshot.clone();
    missing.codes.retain(|(hash, _)| *hash != holder.code_hash);
    let reason = refusal(&missing, &anchor);
    assert!(reason.contains("is not in the file"), "{reason}");
    let mut unused = snapshot.clone();
    let extra = Bytes::from_static(&[0x00, 0x01]);
    unused.codes.push((keccak256(&extra), extra));
    unused.codes.sort();
    let reason = refusal(&unused, &anchor);
    assert!(reason.contains("no account uses it"), "{reason}");
}

#[test]
fn broken_headers_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = genesis_store(&dir, "a");
    commit_change(&store);
    commit_change(&store);
    let anchor = anchor_of(&store, 2);
    let snapshot = export(&store, 2);
    let mut short = snapshot.clone();
    short.headers.remove(0);
    assert!(refusal(&short, &anchor).contains("ancestors"));
    let mut unchained = snapshot.clone();
    let mut first = L2Header::decode(&unchained.headers[0]).expect("header");
    first.gas_used += 1;
    unchained.headers[0] = Bytes::copy_from_slice(&first.encode());
    assert!(refusal(&unchained, &anchor).contains("parent hash"));
}

#[test]
fn an_import_writes_nothing_into_a_store_that_holds_a_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = genesis_store(&dir, "a");
    commit_change(&store);
    let snapshot = export(&store, 1);
    let other = genesis_store(&dir, "b");
    let before = other.head().expect("head");
    let err = import(&other, &snapshot, &anchor_of(&store, 1)).expect_err("not empty");
    assert!(matches!(err, StoreError::AlreadyInitialised { number: 0 }), "{err}");
    assert_eq!(other.head().expect("head"), before);
    assert_eq!(other.snapshot_base().expect("base"), None);
    assert_eq!(other.account(&Address::new([0x99; 20])).expect("read"), None);
}
