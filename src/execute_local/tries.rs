//! The world state as tries: one account trie, one storage trie per account.
//!
//! Input: a pre-state root, a [`NodeSource`] to resolve nodes lazily, and the [`StateDiff`] of
//! executed blocks. Output: the post-state root and, on `commit`, the new nodes.
//!
//! Invariants:
//! - A diff is applied in one fixed order (accounts by address, slots by key; within a trie
//!   all inserts and updates before any removal). The order decides which nodes a removal
//!   must resolve (a branch collapses only if it is left with one child), so recording and
//!   verification, which both call [`StateTries::apply`], resolve exactly the same nodes; and
//!   doing removals last keeps that set small.
//! - Account leaves are decoded strictly (exactly the four Ethereum fields, nothing trailing).

use super::fault::DbFault;
use super::trie::{NodeSource, SparseTrie};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use alloy_trie::EMPTY_ROOT_HASH;
use revm::database::BundleState;
use std::collections::HashMap;

/// An account as stored in the account trie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountLeaf {
    pub nonce: u64,
    pub balance: U256,
    pub storage_root: B256,
    pub code_hash: B256,
}

impl AccountLeaf {
    pub fn decode_exact(mut bytes: &[u8]) -> Result<Self, alloy_rlp::Error> {
        let leaf = Self::decode(&mut bytes)?;
        if !bytes.is_empty() {
            return Err(alloy_rlp::Error::Custom("trailing bytes after account leaf"));
        }
        Ok(leaf)
    }

    pub fn encoded(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.length());
        self.encode(&mut out);
        out.into()
    }
}

/// Nonce, balance and code hash of an account after a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountBasics {
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
}

/// The changes one account went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChange {
    pub address: Address,
    /// `None`: the account no longer exists.
    pub basics: Option<AccountBasics>,
    /// The account's storage was wiped (self-destruct) before `storage` was written.
    pub wiped: bool,
    /// Changed slots, sorted by key; a zero value deletes the slot.
    pub storage: Vec<(U256, U256)>,
}

/// The state changes of one or more blocks, in the canonical order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateDiff {
    pub accounts: Vec<AccountChange>,
    /// Codes deployed, by hash, sorted.
    pub codes: Vec<(B256, Bytes)>,
}

impl StateDiff {
    /// The changes in a revm bundle, dropping accounts that did not change.
    pub fn from_bundle(bundle: &BundleState) -> Self {
        let mut accounts: Vec<AccountChange> = bundle
            .state
            .iter()
            .filter_map(|(address, account)| {
                let wiped = account.status.was_destroyed();
                let mut storage: Vec<(U256, U256)> = account
                    .storage
                    .iter()
                    .filter(|(_, slot)| wiped || slot.is_changed())
                    .map(|(key, slot)| (*key, slot.present_value))
                    .collect();
                storage.sort_unstable_by_key(|(key, _)| *key);
                let basics = account.info.as_ref().map(|info| AccountBasics {
                    nonce: info.nonce,
                    balance: info.balance,
                    code_hash: info.code_hash,
                });
                let unchanged =
                    !wiped && storage.is_empty() && account.info == account.original_info;
                (!unchanged).then_some(AccountChange { address: *address, basics, wiped, storage })
            })
            .collect();
        accounts.sort_unstable_by_key(|change| change.address);
        let mut codes: Vec<(B256, Bytes)> = bundle
            .contracts
            .iter()
            .map(|(hash, code)| (*hash, code.original_bytes()))
            .filter(|(_, code)| !code.is_empty())
            .collect();
        codes.sort_unstable_by_key(|(hash, _)| *hash);
        Self { accounts, codes }
    }
}

impl StateDiff {
    /// The changes of `self` followed by those of `later` (the segments of one block, in
    /// order), as one diff in the canonical order: a later account change replaces an earlier
    /// one's basics, and its slots replace the earlier ones', or all of them when the later
    /// change wiped the storage.
    pub fn then(self, later: &StateDiff) -> StateDiff {
        let mut accounts: std::collections::BTreeMap<Address, AccountChange> =
            self.accounts.into_iter().map(|change| (change.address, change)).collect();
        for change in &later.accounts {
            let merged = match accounts.remove(&change.address) {
                None => change.clone(),
                Some(_) if change.wiped => change.clone(),
                Some(earlier) => {
                    let mut slots: std::collections::BTreeMap<U256, U256> =
                        earlier.storage.into_iter().collect();
                    slots.extend(change.storage.iter().copied());
                    AccountChange {
                        address: change.address,
                        basics: change.basics,
                        wiped: earlier.wiped,
                        storage: slots.into_iter().collect(),
                    }
                }
            };
            accounts.insert(change.address, merged);
        }
        let mut codes: std::collections::BTreeMap<B256, Bytes> = self.codes.into_iter().collect();
        codes.extend(later.codes.iter().cloned());
        StateDiff { accounts: accounts.into_values().collect(), codes: codes.into_iter().collect() }
    }
}

/// The account trie and the storage tries opened so far.
#[derive(Debug)]
pub struct StateTries {
    accounts: SparseTrie,
    storage: HashMap<Address, SparseTrie>,
}

impl StateTries {
    pub fn new(state_root: B256) -> Self {
        Self { accounts: SparseTrie::new(state_root), storage: HashMap::new() }
    }

    /// Reads an account, resolving the nodes on its path.
    pub fn account(
        &mut self,
        src: &impl NodeSource,
        address: Address,
    ) -> Result<Option<AccountLeaf>, DbFault> {
        let Some(bytes) = self.accounts.get(src, &keccak256(address))? else {
            return Ok(None);
        };
        AccountLeaf::decode_exact(&bytes)
            .map(Some)
            .map_err(|err| DbFault::MalformedAccount { address, reason: err.to_string() })
    }

    /// Reads a storage slot, resolving the nodes on its path (and on the account's).
    pub fn storage(
        &mut self,
        src: &impl NodeSource,
        address: Address,
        slot: U256,
    ) -> Result<U256, DbFault> {
        let trie = self.storage_trie(src, address)?;
        let Some(bytes) = trie.get(src, &keccak256(slot.to_be_bytes::<32>()))? else {
            return Ok(U256::ZERO);
        };
        decode_slot_value(&bytes).map_err(|reason| DbFault::MalformedAccount {
            address,
            reason: format!("storage slot {slot}: {reason}"),
        })
    }

    fn storage_trie(
        &mut self,
        src: &impl NodeSource,
        address: Address,
    ) -> Result<&mut SparseTrie, DbFault> {
        if !self.storage.contains_key(&address) {
            let root = self.account(src, address)?.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
            self.storage.insert(address, SparseTrie::new(root));
        }
        self.storage
            .get_mut(&address)
            .ok_or(DbFault::Store { reason: "storage trie vanished".to_string() })
    }

    /// Applies a diff and returns the new state root.
    pub fn apply(&mut self, src: &impl NodeSource, diff: &StateDiff) -> Result<B256, DbFault> {
        let mut removals = Vec::new();
        for change in &diff.accounts {
            let key = keccak256(change.address);
            let Some(basics) = change.basics else {
                self.storage.remove(&change.address);
                removals.push(key);
                continue;
            };
            let storage_root = self.apply_storage(src, change)?;
            let leaf = AccountLeaf {
                nonce: basics.nonce,
                balance: basics.balance,
                storage_root,
                code_hash: basics.code_hash,
            };
            self.accounts.insert(src, &key, leaf.encoded())?;
        }
        for key in &removals {
            self.accounts.remove(src, key)?;
        }
        Ok(self.accounts.root())
    }

    fn apply_storage(
        &mut self,
        src: &impl NodeSource,
        change: &AccountChange,
    ) -> Result<B256, DbFault> {
        if change.wiped {
            self.storage.insert(change.address, SparseTrie::new(EMPTY_ROOT_HASH));
        }
        let trie = self.storage_trie(src, change.address)?;
        let mut removals = Vec::new();
        for (slot, value) in &change.storage {
            let key = keccak256(slot.to_be_bytes::<32>());
            if value.is_zero() {
                removals.push(key);
            } else {
                trie.insert(src, &key, encode_slot_value(*value))?;
            }
        }
        for key in &removals {
            trie.remove(src, key)?;
        }
        Ok(trie.root())
    }

    /// Emits every node created since the last commit (storage tries first).
    pub fn commit(&mut self, out: &mut impl FnMut(B256, Bytes)) {
        for trie in self.storage.values_mut() {
            trie.commit(out);
        }
        self.accounts.commit(out);
    }
}

/// RLP of a storage value as stored in a storage trie leaf.
pub fn encode_slot_value(value: U256) -> Bytes {
    let mut out = Vec::with_capacity(33);
    value.encode(&mut out);
    out.into()
}

fn decode_slot_value(mut bytes: &[u8]) -> Result<U256, String> {
    let value = U256::decode(&mut bytes).map_err(|err| err.to_string())?;
    if !bytes.is_empty() {
        return Err("trailing bytes after storage value".to_string());
    }
    if value.is_zero() {
        return Err("zero value stored in the trie".to_string());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute_local::trie::MemNodes;

    fn basics(nonce: u64) -> Option<AccountBasics> {
        Some(AccountBasics { nonce, balance: U256::from(nonce), code_hash: B256::ZERO })
    }

    fn change(byte: u8, nonce: u64, wiped: bool, storage: &[(u64, u64)]) -> AccountChange {
        AccountChange {
            address: Address::repeat_byte(byte),
            basics: basics(nonce),
            wiped,
            storage: storage.iter().map(|(k, v)| (U256::from(*k), U256::from(*v))).collect(),
        }
    }

    fn root(diffs: &[&StateDiff]) -> B256 {
        let nodes = MemNodes::default();
        let mut tries = StateTries::new(EMPTY_ROOT_HASH);
        let mut root = EMPTY_ROOT_HASH;
        for diff in diffs {
            root = tries.apply(&nodes, diff).expect("in memory");
        }
        root
    }

    /// Two segments' diffs merged give the state the two applied in turn give: later basics
    /// and slots win, a later wipe drops the earlier slots, codes are united.
    #[test]
    fn a_merged_diff_reaches_the_state_its_parts_reach_in_turn() {
        let first = StateDiff {
            accounts: vec![
                change(1, 1, false, &[(1, 10), (2, 20)]),
                change(2, 1, false, &[(5, 50)]),
                change(3, 1, false, &[]),
            ],
            codes: vec![(B256::repeat_byte(1), Bytes::from_static(&[1]))],
        };
        let second = StateDiff {
            accounts: vec![
                change(1, 2, false, &[(2, 0), (3, 30)]),
                change(2, 2, true, &[(6, 60)]),
                change(4, 1, false, &[(9, 90)]),
            ],
            codes: vec![(B256::repeat_byte(2), Bytes::from_static(&[2]))],
        };
        let merged = first.clone().then(&second);
        assert_eq!(root(&[&merged]), root(&[&first, &second]));
        let one = &merged.accounts[0];
        assert_eq!(one.basics, basics(2));
        assert_eq!(
            one.storage,
            vec![
                (U256::from(1), U256::from(10)),
                (U256::from(2), U256::ZERO),
                (U256::from(3), U256::from(30))
            ]
        );
        let two = &merged.accounts[1];
        assert!(two.wiped);
        assert_eq!(two.storage, vec![(U256::from(6), U256::from(60))], "the wipe drops slot 5");
        assert_eq!(merged.accounts.len(), 4);
        assert_eq!(merged.codes.len(), 2);
    }
}
