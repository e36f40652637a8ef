//! The challenger's own records in rocksdb: the L1 cursor, recent L1 block hashes (to detect
//! reorgs), one record per batch seen, and the submitter's challenge intents.
//!
//! Input/output: typed records, stored as JSON values under big-endian keys. Every write that
//! must move together goes through one `WriteBatch`.

use crate::protocol::{Checkpoint, Cut};
use alloy_primitives::B256;
use rocksdb::{ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::path::Path;

const CF_META: &str = "meta";
const CF_L1: &str = "l1_blocks";
const CF_BATCHES: &str = "batches";
const CF_INTENTS: &str = "intents";
const CURSOR_KEY: &[u8] = b"cursor";
/// L1 block hashes kept behind the cursor, for finding the common ancestor after a reorg.
pub const L1_HASH_HISTORY: u64 = 1024;

/// Errors of the challenger's database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("column family {0} is missing")]
    MissingColumnFamily(&'static str),
    #[error("corrupt {what} record: {reason}")]
    Corrupt { what: &'static str, reason: String },
}

/// The last L1 block the watcher processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub number: u64,
    pub hash: B256,
}

/// What the challenger concluded about a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// Every checkpoint matches the local replay.
    Valid,
    /// The checkpoint of block `index` (in the batch) is wrong: the first divergence.
    Invalid { index: usize },
    /// Not replayed, and why (built on a wrong batch; calldata that does not decode).
    Skipped { reason: String },
}

/// The batch's status on L1 as the watcher last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    Pending,
    Finalized { at_l1: u64 },
    Invalidated { at_l1: u64 },
}

/// One batch as proposed and as checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRecord {
    pub id: u64,
    pub parent: u64,
    pub proposer: alloy_primitives::Address,
    pub l1_block: u64,
    pub l1_block_hash: B256,
    pub l1_timestamp: u64,
    pub tx_hash: B256,
    pub first_block: u64,
    pub block_count: u64,
    pub claimed: Vec<Checkpoint>,
    /// The claimed cuts inside the blocks (`claimed_cuts[i]`: block `i`'s; docs/protocol.md,
    /// "Segments").
    #[serde(default)]
    pub claimed_cuts: Vec<Vec<Cut>>,
    /// The local checkpoints, up to and including the first divergent one.
    pub local: Vec<Checkpoint>,
    pub l2_gas: u64,
    pub verdict: Verdict,
    pub state: BatchState,
}

impl BatchRecord {
    pub fn last_block(&self) -> u64 {
        self.first_block + self.block_count.saturating_sub(1)
    }

    /// A valid, pending one-block batch `id` proposed in L1 block `10 + id` (for unit tests).
    #[cfg(test)]
    pub(crate) fn test(id: u64) -> Self {
        Self {
            id,
            parent: id.saturating_sub(1),
            proposer: alloy_primitives::Address::ZERO,
            l1_block: 10 + id,
            l1_block_hash: B256::ZERO,
            l1_timestamp: 0,
            tx_hash: alloy_primitives::keccak256(id.to_be_bytes()),
            first_block: id,
            block_count: 1,
            claimed: Vec::new(),
            claimed_cuts: Vec::new(),
            local: Vec::new(),
            l2_gas: 0,
            verdict: Verdict::Valid,
            state: BatchState::Pending,
        }
    }
}

/// The challenger's database. See the module documentation.
#[derive(Debug)]
pub struct WatchDb {
    db: DB,
}

fn key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

impl WatchDb {
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = [CF_META, CF_L1, CF_BATCHES, CF_INTENTS]
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        Ok(Self { db: DB::open_cf_descriptors(&opts, path, cfs)? })
    }

    fn cf(&self, name: &'static str) -> Result<&rocksdb::ColumnFamily, DbError> {
        self.db.cf_handle(name).ok_or(DbError::MissingColumnFamily(name))
    }

    fn get<T: DeserializeOwned>(
        &self,
        cf: &'static str,
        k: &[u8],
        what: &'static str,
    ) -> Result<Option<T>, DbError> {
        let Some(bytes) = self.db.get_pinned_cf(self.cf(cf)?, k)? else { return Ok(None) };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DbError::Corrupt { what, reason: e.to_string() })
    }

    fn values<T: DeserializeOwned>(
        &self,
        cf: &'static str,
        what: &'static str,
    ) -> Result<Vec<T>, DbError> {
        self.values_from(cf, IteratorMode::Start, what)
    }

    fn values_from<T: DeserializeOwned>(
        &self,
        cf: &'static str,
        mode: IteratorMode<'_>,
        what: &'static str,
    ) -> Result<Vec<T>, DbError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(cf)?, mode) {
            let (_, bytes) = item?;
            out.push(
                serde_json::from_slice(&bytes)
                    .map_err(|e| DbError::Corrupt { what, reason: e.to_string() })?,
            );
        }
        Ok(out)
    }

    fn put_json<T: Serialize>(
        &self,
        batch: &mut WriteBatch,
        cf: &'static str,
        k: &[u8],
        value: &T,
    ) -> Result<(), DbError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| DbError::Corrupt { what: cf, reason: e.to_string() })?;
        batch.put_cf(self.cf(cf)?, k, bytes);
        Ok(())
    }

    pub fn cursor(&self) -> Result<Option<Cursor>, DbError> {
        self.get(CF_META, CURSOR_KEY, "cursor")
    }

    pub fn l1_hash(&self, number: u64) -> Result<Option<B256>, DbError> {
        self.get(CF_L1, &key(number), "l1 hash")
    }

    /// Stored L1 hashes below `number`, newest first.
    pub fn l1_hashes_below(&self, number: u64) -> Result<Vec<(u64, B256)>, DbError> {
        let mut out = Vec::new();
        let start = key(number.saturating_sub(1));
        let mode = IteratorMode::From(&start, Direction::Reverse);
        for item in self.db.iterator_cf(self.cf(CF_L1)?, mode) {
            let (k, v) = item?;
            let n = <[u8; 8]>::try_from(k.as_ref()).map(u64::from_be_bytes).map_err(|_| {
                DbError::Corrupt { what: "l1 hash key", reason: format!("{} bytes", k.len()) }
            })?;
            if n >= number {
                continue;
            }
            let hash = serde_json::from_slice(&v)
                .map_err(|e| DbError::Corrupt { what: "l1 hash", reason: e.to_string() })?;
            out.push((n, hash));
        }
        Ok(out)
    }

    pub fn batch(&self, id: u64) -> Result<Option<BatchRecord>, DbError> {
        self.get(CF_BATCHES, &key(id), "batch")
    }

    /// Every batch record, by id.
    pub fn batches(&self) -> Result<Vec<BatchRecord>, DbError> {
        self.values(CF_BATCHES, "batch")
    }

    /// The highest batch id recorded.
    pub fn last_batch_id(&self) -> Result<Option<u64>, DbError> {
        let Some(item) = self.db.iterator_cf(self.cf(CF_BATCHES)?, IteratorMode::End).next() else {
            return Ok(None);
        };
        let (k, _) = item?;
        <[u8; 8]>::try_from(k.as_ref()).map(|b| Some(u64::from_be_bytes(b))).map_err(|_| {
            DbError::Corrupt { what: "batch key", reason: format!("{} bytes", k.len()) }
        })
    }

    /// The batch records with an id of at least `first`, by id.
    pub fn batches_from(&self, first: u64) -> Result<Vec<BatchRecord>, DbError> {
        let start = key(first);
        self.values_from(CF_BATCHES, IteratorMode::From(&start, Direction::Forward), "batch")
    }

    /// Writes batch records, L1 hashes and the cursor in one atomic batch, and prunes hashes
    /// older than the history kept.
    pub fn commit(
        &self,
        records: &[BatchRecord],
        hashes: &[(u64, B256)],
        cursor: Option<Cursor>,
    ) -> Result<(), DbError> {
        let mut batch = WriteBatch::default();
        for record in records {
            self.put_json(&mut batch, CF_BATCHES, &key(record.id), record)?;
        }
        for (number, hash) in hashes {
            self.put_json(&mut batch, CF_L1, &key(*number), hash)?;
        }
        if let Some(cursor) = cursor {
            self.put_json(&mut batch, CF_META, CURSOR_KEY, &cursor)?;
            let keep_from = cursor.number.saturating_sub(L1_HASH_HISTORY);
            batch.delete_range_cf(self.cf(CF_L1)?, key(0), key(keep_from));
        }
        Ok(self.db.write(batch)?)
    }

    /// Forgets what L1 blocks after `ancestor` said (a reorg replaced them): their hashes, the
    /// batches proposed in them, and finalizations or invalidations seen in them.
    pub fn rewind(&self, ancestor: Cursor) -> Result<Vec<BatchRecord>, DbError> {
        let mut batch = WriteBatch::default();
        let mut dropped = Vec::new();
        for mut record in self.batches()? {
            if record.l1_block > ancestor.number {
                batch.delete_cf(self.cf(CF_BATCHES)?, key(record.id));
                dropped.push(record);
                continue;
            }
            let undone = match record.state {
                BatchState::Finalized { at_l1 } | BatchState::Invalidated { at_l1 } => {
                    at_l1 > ancestor.number
                }
                BatchState::Pending => false,
            };
            if undone {
                record.state = BatchState::Pending;
                self.put_json(&mut batch, CF_BATCHES, &key(record.id), &record)?;
            }
        }
        batch.delete_range_cf(self.cf(CF_L1)?, key(ancestor.number + 1), key(u64::MAX));
        self.put_json(&mut batch, CF_META, CURSOR_KEY, &ancestor)?;
        self.db.write(batch)?;
        Ok(dropped)
    }

    /// A submitter intent by key.
    pub fn intent<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>, DbError> {
        self.get(CF_INTENTS, id.as_bytes(), "intent")
    }

    pub fn intents<T: DeserializeOwned>(&self) -> Result<Vec<T>, DbError> {
        self.values(CF_INTENTS, "intent")
    }

    /// Stores an intent; synced to disk before returning (the submitter sends only after).
    pub fn put_intent<T: Serialize>(&self, id: &str, intent: &T) -> Result<(), DbError> {
        let mut batch = WriteBatch::default();
        self.put_json(&mut batch, CF_INTENTS, id.as_bytes(), intent)?;
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        Ok(self.db.write_opt(batch, &opts)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_from_reads_only_the_records_at_or_after_an_id_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = WatchDb::open(&dir.path().join("db")).expect("open");
        // Ids straddling a byte boundary: key order must be numeric order.
        let ids = [1u64, 2, 255, 256, 257, 1000];
        let records: Vec<BatchRecord> = ids.iter().rev().map(|id| BatchRecord::test(*id)).collect();
        db.commit(&records, &[], None).expect("commit");
        let ids_from = |first| -> Vec<u64> {
            db.batches_from(first).expect("read").iter().map(|r| r.id).collect()
        };
        assert_eq!(ids_from(0), ids.to_vec());
        assert_eq!(ids_from(3), vec![255, 256, 257, 1000]);
        assert_eq!(ids_from(256), vec![256, 257, 1000]);
        assert_eq!(ids_from(1001), Vec::<u64>::new());
        assert_eq!(db.batches().expect("all").len(), ids.len());
        assert_eq!(db.last_batch_id().expect("last"), Some(1000));
    }

    #[test]
    fn an_empty_database_has_no_last_batch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = WatchDb::open(&dir.path().join("db")).expect("open");
        assert_eq!(db.last_batch_id().expect("last"), None);
    }
}
