//! Starting from a finalized batch instead of the L2 genesis.
//!
//! Input: the daemon's L2 store and a batch FINALIZED on L1 (export), or a snapshot file and an
//! empty store (import). Output: a snapshot file ([`format`]) holding the L2 state at the end
//! of the batch (every account, slot and code) and the headers the next blocks read; or a
//! store initialised from it, with the challenger's records set to go on after the batch.
//! Invariants: nothing in a file is trusted: before anything is written, the file is parsed
//! strictly and checked against the rollup contract's record of the batch ([`verify`]); the
//! store is written in one atomic batch, so a refused or interrupted import leaves it empty;
//! export writes a temporary file, checks it the same way, then renames it into place.

pub mod export;
pub mod format;
pub mod l1;
pub mod verify;

pub use format::{FormatError, Snapshot};
pub use verify::{Anchor, Verified};

use crate::config::Config;
use crate::execute_local::store::{StateImport, StateStore, StoreError};
use crate::watcher::WatchDb;
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use std::io::Write as _;
use std::path::{Path, PathBuf};

const TARGET: &str = "native_challenger::snapshot";

/// Why a snapshot could not be exported or used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{}: {error}", path.display())]
    Format { path: PathBuf, error: FormatError },
    #[error("{}: refused: {reason}", path.display())]
    Refused { path: PathBuf, reason: String },
    #[error("L1: {0}")]
    L1(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Export(#[from] export::ExportError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("the challenger's records: {0}")]
    Records(String),
    #[error(
        "the L2 store at {} already holds a chain started from the genesis: use a fresh [store] path to start from a snapshot",
        path.display()
    )]
    GenesisStore { path: PathBuf },
    #[error(
        "the L2 store at {} was started from batch {store}, the snapshot is of batch {file}: use a fresh [store] path",
        path.display()
    )]
    OtherSnapshot { path: PathBuf, store: u64, file: u64 },
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub batch_id: u64,
    pub block: u64,
    pub accounts: usize,
    pub slots: usize,
    pub codes: usize,
    pub headers: usize,
    pub bytes: usize,
}

/// Reads and parses a snapshot file (no L1 checks yet).
pub fn read_file(path: &Path) -> Result<Snapshot, SnapshotError> {
    let bytes = std::fs::read(path)
        .map_err(|error| SnapshotError::Io { path: path.to_path_buf(), error })?;
    Snapshot::decode(&bytes)
        .map_err(|error| SnapshotError::Format { path: path.to_path_buf(), error })
}

/// Exports the L2 state at the end of batch `batch_id`, which must be finalized on L1 at the
/// confirmed block, from the store at `[store] path` (read-only: the daemon may be running),
/// to `out`.
pub async fn export(
    config: &Config,
    batch_id: u64,
    out: &Path,
) -> Result<ExportSummary, SnapshotError> {
    let l1 = config.l1()?;
    let reader = connect(config).await?;
    let at = l1::confirmed_block(&reader, l1).await.map_err(SnapshotError::L1)?;
    let (anchor, _) = l1::anchor(&reader, l1.rollup, config.chain.chain_id, batch_id, at)
        .await
        .map_err(SnapshotError::L1)?;
    let store = StateStore::open_read_only(&config.store.path)?;
    let snapshot = tokio::task::block_in_place(|| {
        export::snapshot_at(&store, anchor.last_block, anchor.chain_id, anchor.rollup, batch_id)
    })?;
    drop(store);
    let refused = |reason| SnapshotError::Refused { path: out.to_path_buf(), reason };
    // What is written is what an importer will check: check it here first.
    tokio::task::block_in_place(|| verify::verify(&snapshot, &anchor)).map_err(refused)?;
    let bytes = snapshot.encode();
    write_atomically(out, &bytes)?;
    Ok(ExportSummary {
        batch_id,
        block: anchor.last_block,
        accounts: snapshot.accounts.len(),
        slots: snapshot.accounts.iter().map(|a| a.storage.len()).sum(),
        codes: snapshot.codes.len(),
        headers: snapshot.headers.len(),
        bytes: bytes.len(),
    })
}

/// A provider on the first `[l1] rpc` endpoint.
pub async fn connect(config: &Config) -> Result<DynProvider, SnapshotError> {
    let l1 = config.l1()?;
    let first = l1.rpc.first().ok_or(crate::config::ConfigError::NoEndpoint)?;
    let provider = ProviderBuilder::new()
        .connect(first)
        .await
        .map_err(|e| SnapshotError::L1(format!("connecting to {first}: {e}")))?;
    Ok(provider.erased())
}

/// Writes `bytes` to `<out>.partial`, syncs it and renames it to `out`.
fn write_atomically(out: &Path, bytes: &[u8]) -> Result<(), SnapshotError> {
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| SnapshotError::Io { path, error }
    };
    let mut file = std::fs::File::create(&partial).map_err(io(&partial))?;
    file.write_all(bytes).map_err(io(&partial))?;
    file.sync_all().map_err(io(&partial))?;
    drop(file);
    std::fs::rename(&partial, out).map_err(io(out))
}

/// Checks the file at `file` against L1 and returns the state to write.
pub async fn read_verified(
    reader: &DynProvider,
    config: &Config,
    file: &Path,
) -> Result<Verified, SnapshotError> {
    let l1 = config.l1()?;
    let snapshot = tokio::task::block_in_place(|| read_file(file))?;
    let at = l1::confirmed_block(reader, l1).await.map_err(SnapshotError::L1)?;
    let refused = |reason| SnapshotError::Refused { path: file.to_path_buf(), reason };
    let chain = config.chain.chain_id;
    let (anchor, _) =
        l1::anchor(reader, l1.rollup, chain, snapshot.batch_id, at).await.map_err(refused)?;
    tokio::task::block_in_place(|| verify::verify(&snapshot, &anchor)).map_err(refused)
}

/// Opens the L2 store at `path` started from the snapshot `file`: an empty store is
/// initialised from the file once it checks out against L1; a store already started from the
/// same batch is opened as it is (the file is not read again). With `records`, an empty
/// challenger database gets the batch records and cursor that follow the snapshot.
pub async fn open_store(
    reader: &DynProvider,
    config: &Config,
    file: &Path,
    path: &Path,
    records: Option<&WatchDb>,
) -> Result<StateStore, SnapshotError> {
    let l1 = config.l1()?;
    let store = StateStore::open(path)?;
    let base = match (store.head()?, store.snapshot_base()?) {
        (Some(_), None) => return Err(SnapshotError::GenesisStore { path: path.to_path_buf() }),
        (Some(_), Some(base)) => {
            // The file is not needed any more; one that is there must be of the same batch.
            let file_batch = match read_batch_id(file) {
                Err(SnapshotError::Io { error, .. })
                    if error.kind() == std::io::ErrorKind::NotFound =>
                {
                    base.batch_id
                }
                other => other?,
            };
            if file_batch != base.batch_id {
                return Err(SnapshotError::OtherSnapshot {
                    path: path.to_path_buf(),
                    store: base.batch_id,
                    file: file_batch,
                });
            }
            base
        }
        (None, _) => {
            if let Some(db) = records
                && db.cursor().map_err(|e| SnapshotError::Records(e.to_string()))?.is_some()
            {
                return Err(SnapshotError::Records(format!(
                    "the L2 store at {} is empty but its records beside it hold an L1 cursor: \
                     use a fresh [store] path",
                    path.display()
                )));
            }
            let verified = read_verified(reader, config, file).await?;
            let v = &verified;
            let import = StateImport {
                base: v.base,
                head: v.head,
                headers: &v.headers,
                diff: &v.diff,
                nodes: &v.nodes,
            };
            tokio::task::block_in_place(|| store.import_state(import))?;
            tracing::info!(target: TARGET, batch = v.base.batch_id, block = v.head.number, accounts = v.diff.accounts.len(), file = %file.display(), "L2 store initialised from a snapshot checked against L1");
            v.base
        }
    };
    if let Some(db) = records
        && db.cursor().map_err(|e| SnapshotError::Records(e.to_string()))?.is_none()
    {
        let at = l1::confirmed_block(reader, l1).await.map_err(SnapshotError::L1)?;
        let cursor = l1::seed_watcher(reader, l1.rollup, db, base.batch_id, at)
            .await
            .map_err(SnapshotError::Records)?;
        tracing::info!(target: TARGET, batch = base.batch_id, l1_block = cursor.number, "the watcher starts after the snapshot's batch");
    }
    Ok(store)
}

/// The batch id in a snapshot file's preamble (the rest is not read).
pub fn read_batch_id(file: &Path) -> Result<u64, SnapshotError> {
    use std::io::Read as _;
    let io = |error| SnapshotError::Io { path: file.to_path_buf(), error };
    let mut preamble = [0u8; format::PREAMBLE_LEN];
    std::fs::File::open(file).and_then(|mut f| f.read_exact(&mut preamble)).map_err(io)?;
    format::batch_id_of(&preamble)
        .map_err(|error| SnapshotError::Format { path: file.to_path_buf(), error })
}

#[cfg(test)]
mod tests;
