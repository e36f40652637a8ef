//! Writing blocks into a [`StateStore`] and rolling them back.
//!
//! Input: a block's [`StateDiff`], its new trie nodes, its hash and header bytes.
//! Output: one atomic rocksdb `WriteBatch` with the flat changes, the nodes, the header, the
//! block's undo record and the new head.
//!
//! The undo record of block N lists, for every flat key the block wrote, the value it had
//! before (or that it was absent), plus the head before N. Rolling back to block M applies the
//! undo records of head..M+1 in reverse, in one batch. Trie nodes are content-addressed and
//! never deleted, so the roots of earlier blocks stay readable without undo.

use super::store::{
    CF_ACCOUNTS, CF_BODIES, CF_CODE, CF_HEADERS, CF_META, CF_NODES, CF_STORAGE, CF_UNDO,
    FlatAccount, HEAD_KEY, Head, Overlay, StateStore, StoreError, storage_key,
};
use super::tries::StateDiff;
use alloy_primitives::{B256, Bytes};
use rocksdb::WriteBatch;

/// One block, ready to be written.
#[derive(Debug)]
pub struct BlockWrite<'a> {
    pub number: u64,
    pub hash: B256,
    pub header: &'a [u8],
    pub state_root: B256,
    pub diff: &'a StateDiff,
    pub nodes: &'a [(B256, Bytes)],
    /// The block's body, stored as given (empty: none).
    pub body: &'a [u8],
}

/// Prior value of one flat key: (column family index, key, value before or None).
type UndoEntry = (u8, Vec<u8>, Option<Vec<u8>>);

const UNDO_CFS: [&str; 2] = [CF_ACCOUNTS, CF_STORAGE];

impl StateStore {
    /// Writes the genesis state (block 0 or the first block the store follows).
    pub fn write_genesis(&self, genesis: BlockWrite<'_>) -> Result<Head, StoreError> {
        if let Some(head) = self.head()? {
            return Err(StoreError::AlreadyInitialised { number: head.number });
        }
        self.write_block(genesis, None)
    }

    /// Writes the next block on top of the head.
    pub fn commit_block(&self, block: BlockWrite<'_>) -> Result<Head, StoreError> {
        let head = self.head()?.ok_or(StoreError::Uninitialised)?;
        if block.number != head.number + 1 {
            return Err(StoreError::NotNextBlock { number: block.number, head: head.number });
        }
        self.write_block(block, Some(head))
    }

    fn write_block(&self, block: BlockWrite<'_>, prev: Option<Head>) -> Result<Head, StoreError> {
        let mut batch = WriteBatch::default();
        let mut undo: Vec<UndoEntry> = Vec::new();
        self.stage_diff(&mut batch, &mut undo, block.diff)?;
        let nodes = self.cf(CF_NODES)?;
        for (hash, node) in block.nodes {
            batch.put_cf(nodes, hash, node);
        }
        let mut header = Vec::with_capacity(32 + block.header.len());
        header.extend_from_slice(block.hash.as_slice());
        header.extend_from_slice(block.header);
        batch.put_cf(self.cf(CF_HEADERS)?, block.number.to_be_bytes(), header);
        if !block.body.is_empty() {
            batch.put_cf(self.cf(CF_BODIES)?, block.number.to_be_bytes(), block.body);
        }
        if let Some(prev) = prev {
            batch.put_cf(self.cf(CF_UNDO)?, block.number.to_be_bytes(), encode_undo(&prev, &undo));
        }
        let head = Head { number: block.number, hash: block.hash, state_root: block.state_root };
        batch.put_cf(self.cf(CF_META)?, HEAD_KEY, head.encode());
        self.db.write(batch)?;
        Ok(head)
    }

    fn stage_diff(
        &self,
        batch: &mut WriteBatch,
        undo: &mut Vec<UndoEntry>,
        diff: &StateDiff,
    ) -> Result<(), StoreError> {
        let accounts = self.cf(CF_ACCOUNTS)?;
        let storage = self.cf(CF_STORAGE)?;
        for change in &diff.accounts {
            let key = change.address.as_slice().to_vec();
            undo.push((0, key.clone(), self.db.get_cf(accounts, &key)?));
            match change.basics {
                Some(b) => {
                    let flat =
                        FlatAccount { nonce: b.nonce, balance: b.balance, code_hash: b.code_hash };
                    batch.put_cf(accounts, &key, flat.encoded());
                }
                None => batch.delete_cf(accounts, &key),
            }
            if change.wiped || change.basics.is_none() {
                for (slot, value) in self.storage_of(&change.address)? {
                    let skey = storage_key(&change.address, &slot).to_vec();
                    undo.push((1, skey.clone(), Some(value.to_be_bytes::<32>().to_vec())));
                    batch.delete_cf(storage, &skey);
                }
            }
            for (slot, value) in &change.storage {
                let skey = storage_key(&change.address, slot).to_vec();
                undo.push((1, skey.clone(), self.db.get_cf(storage, &skey)?));
                if value.is_zero() {
                    batch.delete_cf(storage, &skey);
                } else {
                    batch.put_cf(storage, &skey, value.to_be_bytes::<32>());
                }
            }
        }
        let code = self.cf(CF_CODE)?;
        for (hash, bytes) in &diff.codes {
            batch.put_cf(code, hash, bytes);
        }
        Ok(())
    }

    /// Rolls the flat state and the head back to block `target`, atomically.
    pub fn rollback_to(&self, target: u64) -> Result<Head, StoreError> {
        let head = self.head()?.ok_or(StoreError::Uninitialised)?;
        let mut batch = WriteBatch::default();
        let mut restored = head;
        let undo_cf = self.cf(CF_UNDO)?;
        let headers = self.cf(CF_HEADERS)?;
        let bodies = self.cf(CF_BODIES)?;
        for number in (target.saturating_add(1)..=head.number).rev() {
            let Some(record) = self.db.get_cf(undo_cf, number.to_be_bytes())? else {
                return Err(StoreError::RollbackOutOfRange {
                    target,
                    head: head.number,
                    oldest: number,
                });
            };
            let (prev, entries) = decode_undo(&record)?;
            // Entries are undone newest first, so a key written twice ends at its oldest value.
            for (cf, key, value) in entries.iter().rev() {
                let cf = self.cf(UNDO_CFS[usize::from(*cf)])?;
                match value {
                    Some(value) => batch.put_cf(cf, key, value),
                    None => batch.delete_cf(cf, key),
                }
            }
            batch.delete_cf(undo_cf, number.to_be_bytes());
            batch.delete_cf(headers, number.to_be_bytes());
            batch.delete_cf(bodies, number.to_be_bytes());
            restored = prev;
        }
        batch.put_cf(self.cf(CF_META)?, HEAD_KEY, restored.encode());
        self.db.write(batch)?;
        Ok(restored)
    }
}

impl StateStore {
    /// The flat state as it was after block `number`, as an overlay over the current flat
    /// state: built from the undo records of the blocks after it (each records what it
    /// overwrote, so the oldest record mentioning a key holds its value at `number`).
    pub fn overlay_at(&self, number: u64) -> Result<Overlay, StoreError> {
        let head = self.head()?.ok_or(StoreError::Uninitialised)?;
        let mut overlay = Overlay::default();
        let undo_cf = self.cf(CF_UNDO)?;
        for block in (number.saturating_add(1)..=head.number).rev() {
            let Some(record) = self.db.get_cf(undo_cf, block.to_be_bytes())? else {
                return Err(StoreError::RollbackOutOfRange {
                    target: number,
                    head: head.number,
                    oldest: block,
                });
            };
            let (_, entries) = decode_undo(&record)?;
            for (cf, key, value) in entries.iter().rev() {
                overlay.insert(*cf, key, value.as_deref())?;
            }
        }
        Ok(overlay)
    }
}

fn encode_undo(prev: &Head, entries: &[UndoEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(72 + entries.len() * 90);
    out.extend_from_slice(&prev.encode());
    for (cf, key, value) in entries {
        out.push(*cf);
        out.extend_from_slice(&(key.len() as u32).to_be_bytes());
        out.extend_from_slice(key);
        match value {
            Some(value) => {
                out.push(1);
                out.extend_from_slice(&(value.len() as u32).to_be_bytes());
                out.extend_from_slice(value);
            }
            None => out.push(0),
        }
    }
    out
}

fn decode_undo(bytes: &[u8]) -> Result<(Head, Vec<UndoEntry>), StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt { what: "undo", reason: reason.to_string() };
    let prev = Head::decode(bytes.get(..72).ok_or_else(|| corrupt("short"))?)?;
    let mut rest = &bytes[72..];
    let mut entries = Vec::new();
    while let Some((&cf, tail)) = rest.split_first() {
        if usize::from(cf) >= UNDO_CFS.len() {
            return Err(corrupt("unknown column family"));
        }
        let (key, tail) = take_prefixed(tail).ok_or_else(|| corrupt("key"))?;
        let (&flag, tail) = tail.split_first().ok_or_else(|| corrupt("flag"))?;
        let (value, tail) = match flag {
            0 => (None, tail),
            1 => {
                let (value, tail) = take_prefixed(tail).ok_or_else(|| corrupt("value"))?;
                (Some(value.to_vec()), tail)
            }
            _ => return Err(corrupt("flag")),
        };
        entries.push((cf, key.to_vec(), value));
        rest = tail;
    }
    Ok((prev, entries))
}

fn take_prefixed(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let body = bytes.get(4..4 + len)?;
    Some((body, &bytes[4 + len..]))
}
