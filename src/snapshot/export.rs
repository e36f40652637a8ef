//! Reading the state of one block out of a [`StateStore`].
//!
//! Input: the store and an L2 block number at or below its head. Output: that block's
//! accounts, slots and codes, and its header with up to [`BLOCKHASH_WINDOW`] ancestors'. A
//! block below the head is seen through the undo records of the blocks after it
//! ([`StateStore::overlay_at`]), so the daemon's store can be read where it stands.

use super::format::{Snapshot, SnapshotAccount};
use super::verify::BLOCKHASH_WINDOW;
use crate::execute_local::store::{FlatAccount, StateStore, StoreError};
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use std::collections::{BTreeMap, BTreeSet};

/// Why the store could not give a block's state.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the L2 store is at block {head}; block {wanted} is not replayed yet")]
    Ahead { wanted: u64, head: u64 },
    #[error("the L2 store has no header for block {0}")]
    MissingHeader(u64),
    #[error(
        "the L2 store's header of block {number} hashes to {computed}, it is stored as {stored}"
    )]
    HeaderHash { number: u64, computed: B256, stored: B256 },
    #[error("the L2 store has no code {hash} (account {address})")]
    MissingCode { address: Address, hash: B256 },
}

/// The snapshot of block `number` (chain, rollup and batch as given). See the module docs.
pub fn snapshot_at(
    store: &StateStore,
    number: u64,
    chain_id: u64,
    rollup: Address,
    batch_id: u64,
) -> Result<Snapshot, ExportError> {
    let head = store.head()?.ok_or(StoreError::Uninitialised)?;
    if number > head.number {
        return Err(ExportError::Ahead { wanted: number, head: head.number });
    }
    let overlay = (number < head.number).then(|| store.overlay_at(number)).transpose()?;
    let mut accounts: BTreeMap<Address, Option<FlatAccount>> = BTreeMap::new();
    store.for_each_account(|address, account| {
        accounts.insert(address, Some(account));
        Ok::<(), StoreError>(())
    })?;
    let mut changed_slots: BTreeMap<Address, Vec<(U256, U256)>> = BTreeMap::new();
    if let Some(overlay) = &overlay {
        for (address, account) in overlay.accounts() {
            accounts.insert(*address, *account);
        }
        for ((address, slot), value) in overlay.slots() {
            changed_slots.entry(*address).or_default().push((*slot, *value));
        }
    }
    let mut out = Vec::with_capacity(accounts.len());
    let mut code_hashes = BTreeSet::new();
    for (address, account) in accounts {
        let Some(account) = account else { continue };
        let mut slots: BTreeMap<U256, U256> = store.storage_of(&address)?.into_iter().collect();
        for (slot, value) in changed_slots.remove(&address).unwrap_or_default() {
            slots.insert(slot, value);
        }
        if account.code_hash != KECCAK256_EMPTY {
            code_hashes.insert((account.code_hash, address));
        }
        out.push(SnapshotAccount {
            address,
            nonce: account.nonce,
            balance: account.balance,
            code_hash: account.code_hash,
            storage: slots.into_iter().filter(|(_, v)| !v.is_zero()).collect(),
        });
    }
    let mut codes: Vec<(B256, Bytes)> = Vec::new();
    for (hash, address) in code_hashes {
        if codes.last().is_some_and(|(last, _)| *last == hash) {
            continue;
        }
        let code = store.code(&hash)?.ok_or(ExportError::MissingCode { address, hash })?;
        codes.push((hash, code));
    }
    let first = number.saturating_sub(BLOCKHASH_WINDOW);
    let mut headers = Vec::with_capacity((number - first + 1) as usize);
    for n in first..=number {
        let (stored, bytes) = store.header(n)?.ok_or(ExportError::MissingHeader(n))?;
        let computed = keccak256(&bytes);
        if computed != stored {
            return Err(ExportError::HeaderHash { number: n, computed, stored });
        }
        headers.push(bytes);
    }
    Ok(Snapshot { chain_id, rollup, batch_id, headers, accounts: out, codes })
}
