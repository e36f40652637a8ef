//! Checking a decoded snapshot against what L1 finalized.
//!
//! Input: a [`Snapshot`] and the [`Anchor`] read from the rollup contract. Output: the state
//! ready to be written ([`Verified`]), or the first reason it is refused. Checked: chain id,
//! rollup and batch id; the headers chain by parent hash up to the batch's last block, whose
//! hash, number and state root are the contract's, with every ancestor BLOCKHASH can read;
//! every account's code is in the file and every code in the file is used; the state trie
//! rebuilt from every account, slot and code hash has the finalized state root.

use super::format::Snapshot;
use crate::execute_local::store::{Head, SnapshotBase};
use crate::execute_local::trie::MemNodes;
use crate::execute_local::tries::{AccountBasics, AccountChange, StateDiff, StateTries};
use crate::protocol::L2Header;
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY};
use alloy_trie::EMPTY_ROOT_HASH;
use std::collections::BTreeSet;

/// How many ancestors of the head a block's BLOCKHASH can read.
pub const BLOCKHASH_WINDOW: u64 = 256;

/// What the rollup contract records for a finalized batch, and where the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub chain_id: u64,
    pub rollup: Address,
    pub batch_id: u64,
    /// L2 number of the batch's last block.
    pub last_block: u64,
    pub last_block_hash: B256,
    pub last_state_root: B256,
}

/// A snapshot that checked out, in the store's terms.
#[derive(Debug)]
pub struct Verified {
    pub base: SnapshotBase,
    pub head: Head,
    /// (number, hash, header bytes), oldest first.
    pub headers: Vec<(u64, B256, Bytes)>,
    pub diff: StateDiff,
    pub nodes: Vec<(B256, Bytes)>,
}

/// Checks `snapshot` against `anchor`. See the module documentation.
pub fn verify(snapshot: &Snapshot, anchor: &Anchor) -> Result<Verified, String> {
    if snapshot.chain_id != anchor.chain_id {
        return Err(format!(
            "the snapshot is of L2 chain {}, this configuration follows chain {}",
            snapshot.chain_id, anchor.chain_id
        ));
    }
    if snapshot.rollup != anchor.rollup {
        return Err(format!(
            "the snapshot is of rollup {}, this configuration follows {}",
            snapshot.rollup, anchor.rollup
        ));
    }
    if snapshot.batch_id != anchor.batch_id {
        return Err(format!(
            "the snapshot is of batch {}, L1 was read for batch {}",
            snapshot.batch_id, anchor.batch_id
        ));
    }
    let headers = check_headers(&snapshot.headers, anchor)?;
    let diff = state_diff(snapshot)?;
    let mut tries = StateTries::new(EMPTY_ROOT_HASH);
    let root = tries
        .apply(&MemNodes::default(), &diff)
        .map_err(|e| format!("rebuilding the state trie: {e}"))?;
    if root != anchor.last_state_root {
        return Err(format!(
            "the state in the file has root {root}, the rollup finalized {} for batch {}",
            anchor.last_state_root, anchor.batch_id
        ));
    }
    let mut nodes = Vec::new();
    tries.commit(&mut |hash, node| nodes.push((hash, node)));
    let head = Head { number: anchor.last_block, hash: anchor.last_block_hash, state_root: root };
    let base = SnapshotBase {
        batch_id: anchor.batch_id,
        number: anchor.last_block,
        hash: anchor.last_block_hash,
    };
    Ok(Verified { base, head, headers, diff, nodes })
}

/// The headers, decoded and chained; the last one is the batch's last block.
fn check_headers(raw: &[Bytes], anchor: &Anchor) -> Result<Vec<(u64, B256, Bytes)>, String> {
    let expected = anchor.last_block.min(BLOCKHASH_WINDOW) as usize + 1;
    if raw.len() != expected {
        return Err(format!(
            "{} headers: block {} needs itself and its {} ancestors",
            raw.len(),
            anchor.last_block,
            expected - 1
        ));
    }
    let first = anchor.last_block + 1 - expected as u64;
    let mut out: Vec<(u64, B256, Bytes)> = Vec::with_capacity(raw.len());
    for (i, bytes) in raw.iter().enumerate() {
        let number = first + i as u64;
        let header = L2Header::decode(bytes).map_err(|e| format!("header {number}: {e}"))?;
        if header.number != number {
            return Err(format!("header {i} is of block {}, expected {number}", header.number));
        }
        if let Some((_, parent, _)) = out.last()
            && header.parent_hash != *parent
        {
            return Err(format!(
                "header {number}'s parent hash {} is not the hash of block {} ({parent})",
                header.parent_hash,
                number - 1
            ));
        }
        let hash = header.block_hash();
        if number == anchor.last_block {
            if hash != anchor.last_block_hash {
                return Err(format!(
                    "block {number} hashes to {hash}, the rollup finalized {} for batch {}",
                    anchor.last_block_hash, anchor.batch_id
                ));
            }
            if header.state_root != anchor.last_state_root {
                return Err(format!(
                    "block {number}'s header holds state root {}, the rollup finalized {}",
                    header.state_root, anchor.last_state_root
                ));
            }
        }
        out.push((number, hash, bytes.clone()));
    }
    Ok(out)
}

/// The snapshot's state as one diff over the empty state; codes present and used.
fn state_diff(snapshot: &Snapshot) -> Result<StateDiff, String> {
    let present: BTreeSet<B256> = snapshot.codes.iter().map(|(hash, _)| *hash).collect();
    let mut used = BTreeSet::new();
    let mut accounts = Vec::with_capacity(snapshot.accounts.len());
    for account in &snapshot.accounts {
        let hash = account.code_hash;
        if hash != KECCAK256_EMPTY {
            if !present.contains(&hash) {
                return Err(format!(
                    "account {}'s code {hash} is not in the file",
                    account.address
                ));
            }
            used.insert(hash);
        }
        accounts.push(AccountChange {
            address: account.address,
            basics: Some(AccountBasics {
                nonce: account.nonce,
                balance: account.balance,
                code_hash: hash,
            }),
            wiped: false,
            storage: account.storage.clone(),
        });
    }
    if let Some(unused) = present.difference(&used).next() {
        return Err(format!("code {unused} is in the file but no account uses it"));
    }
    Ok(StateDiff { accounts, codes: snapshot.codes.clone() })
}
