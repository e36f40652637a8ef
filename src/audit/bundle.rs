//! Audit bundles: per L2 block checked, the exact EXECUTE input that proves its correct
//! transition, and a `manifest.json` describing them (format in docs/audit.md).
//!
//! Input: the watcher's batch records (in id order) and each batch's proposing calldata,
//! read again from L1. Output: `block-<n>.bin` files (`ExecuteCall::abi_encode()` of
//! pre-root, the locally computed post-root, the one-block trace and gas) and the manifest.
//! The exporter replays the blocks on its own L2 store (a second copy of the state, so the
//! watcher is untouched) and records each block's trace from the state before it. Progress
//! (the last batch processed) is kept next to that store, so an interrupted export resumes.

use super::AuditError;
use super::range::Range;
use super::report::{RootGas, write_atomic};
use crate::execute_local::chain::ChainRules;
use crate::execute_local::execute::record_segment_trace;
use crate::execute_local::l2::L2Block;
use crate::execute_local::replay::execute_on_store;
use crate::execute_local::store::{StateStore, StoreError};
use crate::protocol::{BlockInputs, Checkpoint, ExecuteCall};
use crate::watcher::{BatchRecord, L1Source, Verdict, WatchDb, read_batch_blocks};
use alloy_primitives::{Address, B256, keccak256};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The manifest's format tag.
// 2: protocol v3, traces of version 2 and one entry per segment of a block ("segment").
pub const FORMAT: &str = "native-challenger-audit-bundle/2";
pub const MANIFEST: &str = "manifest.json";

/// What the replay concluded about one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockVerdict {
    /// The claimed checkpoint equals the local one.
    Valid,
    /// The first divergent block of its batch: the file proves the correct transition.
    Invalid,
}

/// One block of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockEntry {
    pub block: u64,
    /// The segment of the block the file proves (docs/protocol.md, "Segments"); 0 for a
    /// block of one segment.
    #[serde(default)]
    pub segment: u16,
    pub file: String,
    pub keccak256: B256,
    pub pre_state_root: B256,
    /// The locally computed (correct) post-state root, as in the file.
    pub post_state_root: B256,
    pub gas_used: u64,
    pub batch_id: u64,
    pub index_in_batch: usize,
    pub l1_block: u64,
    pub l1_tx: B256,
    pub claimed: Checkpoint,
    pub verdict: BlockVerdict,
}

/// The bundle's `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub chain_id: u64,
    /// The fork the L2 runs (`[chain] fork`), which fixes the EXECUTE rules.
    pub fork: String,
    pub rollup: Address,
    pub blocks: Vec<BlockEntry>,
}

impl Manifest {
    pub fn load(dir: &Path) -> Result<Self, AuditError> {
        let path = dir.join(MANIFEST);
        let bytes =
            std::fs::read(&path).map_err(|error| AuditError::Io { path: path.clone(), error })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| AuditError::Format { path, reason: e.to_string() })
    }

    pub fn save(&self, dir: &Path) -> Result<(), AuditError> {
        let path = dir.join(MANIFEST);
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| AuditError::Format { path: path.clone(), reason: e.to_string() })?;
        write_atomic(&path, &bytes)
    }

    /// Adds or replaces (a resumed export may redo a block) the entry of `entry.block`'s
    /// segment `entry.segment`.
    fn put(&mut self, entry: BlockEntry) {
        self.blocks.retain(|e| (e.block, e.segment) != (entry.block, entry.segment));
        self.blocks.push(entry);
        self.blocks.sort_by_key(|e| (e.block, e.segment));
    }
}

/// Writes a bundle. See the module documentation.
pub struct BundleExporter {
    dir: PathBuf,
    store: StateStore,
    rules: ChainRules,
    manifest: Manifest,
    range: Range,
    progress_path: PathBuf,
    progress: ExportProgress,
    /// Batches processed since the manifest and the progress were last saved.
    unsaved: usize,
}

/// Batches processed by the exporter that it remembers, for following reorgs.
pub const REMEMBERED_BATCHES: usize = 1024;
/// The manifest and the progress are saved at least this often (in batches), and at the end
/// of every [`BundleExporter::export_pending`].
const SAVE_EVERY: usize = 64;

/// The exporter's progress file: the last batch processed, and the proposing transaction of
/// each of the last [`REMEMBERED_BATCHES`] processed, by id. (A plain number, the format
/// before reorgs were followed, is read as `done` with nothing remembered.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportProgress {
    pub done: u64,
    pub recent: Vec<(u64, B256)>,
}

impl ExportProgress {
    fn load(path: &Path) -> Result<Self, AuditError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(error) => return Err(AuditError::Io { path: path.to_path_buf(), error }),
        };
        if let Ok(done) = text.trim().parse::<u64>() {
            return Ok(Self { done, recent: Vec::new() });
        }
        serde_json::from_str(&text)
            .map_err(|e| AuditError::Format { path: path.to_path_buf(), reason: e.to_string() })
    }

    fn processed(&mut self, record: &BatchRecord) {
        self.done = record.id;
        self.recent.push((record.id, record.tx_hash));
        if self.recent.len() > REMEMBERED_BATCHES {
            let excess = self.recent.len() - REMEMBERED_BATCHES;
            self.recent.drain(..excess);
        }
    }
}

impl BundleExporter {
    /// `store` is at the rollup's genesis or where a previous export left it; `progress` is
    /// the file that remembers the batches processed (kept next to `store`).
    pub fn open(
        dir: PathBuf,
        store: StateStore,
        rules: ChainRules,
        header: Manifest,
        range: Range,
        progress: PathBuf,
    ) -> Result<Self, AuditError> {
        std::fs::create_dir_all(&dir)
            .map_err(|error| AuditError::Io { path: dir.clone(), error })?;
        let manifest = match Manifest::load(&dir) {
            Ok(m) if m.chain_id == header.chain_id && m.rollup == header.rollup => m,
            Ok(_) => {
                return Err(AuditError::Format {
                    path: dir.join(MANIFEST),
                    reason: "an existing bundle of another chain or rollup".into(),
                });
            }
            Err(AuditError::Io { .. }) => header,
            Err(e) => return Err(e),
        };
        let loaded = ExportProgress::load(&progress)?;
        Ok(Self {
            dir,
            store,
            rules,
            manifest,
            range,
            progress_path: progress,
            progress: loaded,
            unsaved: 0,
        })
    }

    /// Follows reorgs, then processes every checked batch after the last one processed, in
    /// id order, up to the end of the range.
    pub async fn export_pending<S: L1Source>(
        &mut self,
        db: &WatchDb,
        source: &S,
    ) -> Result<(), AuditError> {
        self.follow_reorgs(db)?;
        for record in db.batches_from(self.progress.done.saturating_add(1))? {
            if !self.range.before_end(&record) {
                break;
            }
            if !matches!(record.verdict, Verdict::Skipped { .. }) {
                let blocks = read_batch_blocks(source, self.manifest.rollup, &record)
                    .await
                    .map_err(|e| export(&record, e))?;
                self.batch(&record, &blocks)?;
            }
            self.progress.processed(&record);
            self.unsaved += 1;
            if self.unsaved >= SAVE_EVERY {
                self.save()?;
            }
        }
        if self.unsaved > 0 {
            self.save()?;
        }
        Ok(())
    }

    /// The manifest, then the progress: a crash in between redoes the batches after the old
    /// progress, which rewrites the same files and entries.
    fn save(&mut self) -> Result<(), AuditError> {
        self.manifest.save(&self.dir)?;
        let bytes = serde_json::to_vec(&self.progress).map_err(|e| AuditError::Format {
            path: self.progress_path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&self.progress_path, &bytes)?;
        self.unsaved = 0;
        Ok(())
    }

    /// When the watcher dropped or replaced batches the exporter processed (an L1 reorg),
    /// forgets them: their block files and manifest entries are removed and they are
    /// processed again as the watcher records them anew. The exporter's L2 state rolls
    /// back when the next batch starts below its head.
    fn follow_reorgs(&mut self, db: &WatchDb) -> Result<(), AuditError> {
        let Some(&(newest, _)) = self.progress.recent.last() else {
            return Ok(());
        };
        let mut keep = None;
        for &(id, tx) in self.progress.recent.iter().rev() {
            if db.batch(id)?.is_some_and(|r| r.tx_hash == tx) {
                keep = Some(id);
                break;
            }
        }
        if keep == Some(newest) {
            return Ok(());
        }
        let keep = match keep {
            Some(id) => id,
            // Everything the exporter ever processed is remembered: start over.
            None if self.progress.recent.first().is_some_and(|(id, _)| *id <= 1) => 0,
            None => {
                return Err(AuditError::Format {
                    path: self.progress_path.clone(),
                    reason: format!(
                        "an L1 reorg replaced more than the last {REMEMBERED_BATCHES} batches \
                         this bundle holds; export it again into an empty directory, with the \
                         .bundle-state and .bundle-progress files next to the store removed"
                    ),
                });
            }
        };
        for entry in self.manifest.blocks.iter().filter(|e| e.batch_id > keep) {
            match std::fs::remove_file(self.dir.join(&entry.file)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(AuditError::Io { path: self.dir.join(&entry.file), error });
                }
            }
        }
        self.manifest.blocks.retain(|e| e.batch_id <= keep);
        self.progress.recent.retain(|(id, _)| *id <= keep);
        tracing::warn!(target: "native_challenger::audit", from = self.progress.done, to = keep, "L1 reorg: bundle entries of the dropped batches removed");
        self.progress.done = keep;
        self.save()
    }

    /// Replays a batch's blocks on the exporter's store up to its verdict's end, writing
    /// each block's file when the batch is in range.
    fn batch(&mut self, record: &BatchRecord, blocks: &[BlockInputs]) -> Result<(), AuditError> {
        let before = record.first_block.saturating_sub(1);
        let head = self.store.head()?.ok_or(StoreError::Uninitialised)?;
        if head.number > before {
            self.store.rollback_to(before)?;
        } else if head.number < before {
            return Err(export(record, format!("the bundle state is at L2 block {}", head.number)));
        }
        let (count, lie) = match record.verdict {
            Verdict::Invalid { index } => (index + 1, Some(index)),
            _ => (blocks.len(), None),
        };
        let in_range = self.range.after_start(record);
        for (index, inputs) in blocks.iter().take(count).enumerate() {
            let block = L2Block::new(inputs.clone()).map_err(|e| export(record, e))?;
            if in_range {
                self.write_block(record, index, &block)?;
            }
            if lie != Some(index) {
                let pending = execute_on_store(&self.store, &self.rules, &block)
                    .map_err(|e| export(record, e))?;
                pending.commit(&self.store)?;
            }
        }
        Ok(())
    }

    /// Records the block's traces from the store's head and writes their EXECUTE inputs: one
    /// per segment of the block (docs/protocol.md, "Segments"), each from the state the previous
    /// one ended at, with the claim the proposal made of it (a cut, or the block's checkpoint
    /// for its last segment).
    fn write_block(
        &mut self,
        record: &BatchRecord,
        index: usize,
        block: &L2Block,
    ) -> Result<(), AuditError> {
        let replayed =
            execute_on_store(&self.store, &self.rules, block).map_err(|e| export(record, e))?;
        let segments = replayed.cuts.len() + 1;
        let number = record.first_block + index as u64;
        let claimed_cuts = record.claimed_cuts.get(index).map(Vec::as_slice).unwrap_or_default();
        for k in 0..segments {
            let segment = u16::try_from(k).map_err(|e| export(record, e))?;
            let (trace, recorded) = record_segment_trace(&self.store, &self.rules, block, segment)
                .map_err(|e| export(record, e))?;
            let step = &recorded.step;
            let local =
                RootGas { post_state_root: step.post_state_root, gas_used: step.end.gas_used };
            let last = k + 1 == segments;
            if last && record.local.get(index).map(RootGas::from) != Some(local) {
                return Err(export(
                    record,
                    format!("block {index}: the bundle replay disagrees with the watcher"),
                ));
            }
            let call = ExecuteCall {
                pre_state_root: recorded.pre_state_root,
                post_state_root: local.post_state_root,
                trace: trace.encode().map_err(|e| export(record, e))?.into(),
                gas_used: local.gas_used,
            };
            // What the proposal claimed of this segment's end, and whether that leaf is the
            // truth: a cut as the STF cuts, or the block's checkpoint after as many cuts.
            let (claimed, valid) = if last {
                let claimed = record.claimed.get(index).copied();
                let same_count = claimed_cuts.len() == replayed.cuts.len();
                let valid =
                    same_count && claimed.is_some() && claimed == record.local.get(index).copied();
                (claimed.unwrap_or_default(), valid)
            } else {
                let cut = claimed_cuts.get(k);
                let claimed = Checkpoint {
                    input_commitment: block.input_commitment,
                    post_state_root: cut.map(|c| c.state_root).unwrap_or_default(),
                    gas_used: cut.map(|c| c.gas_used).unwrap_or_default(),
                };
                (claimed, cut == replayed.cuts.get(k))
            };
            let file = if segments == 1 {
                format!("block-{number}.bin")
            } else {
                format!("block-{number}-segment-{k}.bin")
            };
            let bytes = call.abi_encode();
            write_atomic(&self.dir.join(&file), &bytes)?;
            self.manifest.put(BlockEntry {
                block: number,
                segment,
                file,
                keccak256: keccak256(&bytes),
                pre_state_root: call.pre_state_root,
                post_state_root: call.post_state_root,
                gas_used: call.gas_used,
                batch_id: record.id,
                index_in_batch: index,
                l1_block: record.l1_block,
                l1_tx: record.tx_hash,
                claimed,
                verdict: if valid { BlockVerdict::Valid } else { BlockVerdict::Invalid },
            });
        }
        Ok(())
    }
}

fn export(record: &BatchRecord, reason: impl std::fmt::Display) -> AuditError {
    AuditError::Export { batch: record.id, reason: reason.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_the_old_plain_number_and_remembers_a_bounded_window() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("progress");
        assert_eq!(ExportProgress::load(&path).expect("missing"), ExportProgress::default());
        std::fs::write(&path, "7\n").unwrap();
        assert_eq!(
            ExportProgress::load(&path).expect("plain"),
            ExportProgress { done: 7, recent: Vec::new() }
        );
        std::fs::write(&path, "{\"done\": 3").unwrap();
        assert!(matches!(ExportProgress::load(&path), Err(AuditError::Format { .. })));

        let mut progress = ExportProgress::default();
        let total = REMEMBERED_BATCHES as u64 + 10;
        for id in 1..=total {
            let record = BatchRecord::test(id);
            progress.processed(&record);
        }
        assert_eq!(progress.done, total);
        assert_eq!(progress.recent.len(), REMEMBERED_BATCHES);
        assert_eq!(progress.recent.first().map(|r| r.0), Some(11));
        assert_eq!(progress.recent.last(), Some(&(total, keccak256(total.to_be_bytes()))));
        let bytes = serde_json::to_vec(&progress).unwrap();
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(ExportProgress::load(&path).expect("json"), progress);
    }
}
