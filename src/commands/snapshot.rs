//! `native-challenger snapshot export --config C --batch N --out FILE`: writes the L2 state at
//! the end of batch N (finalized on L1) from the store at `[store] path`, which the daemon may
//! hold open; `native-challenger snapshot verify --config C FILE`: checks a file against L1
//! as a start from it would, and writes nothing. A configuration starts from a file with
//! `[start] snapshot = "FILE"` (`run`), or `replay --snapshot FILE`.

use anyhow::{Context, Result};
use native_challenger::config::Config;
use native_challenger::snapshot;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    command: SnapshotCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SnapshotCommand {
    /// Export the L2 state at the end of a finalized batch.
    Export {
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
        /// The batch: finalized on L1 at the configured confirmation depth, and replayed by
        /// the store.
        #[arg(long)]
        batch: u64,
        /// The snapshot file (written as FILE.partial, then renamed).
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a snapshot file against L1 (format, checksum, headers, state root).
    Verify {
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
        file: PathBuf,
    },
}

pub fn run(args: SnapshotArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match args.command {
        SnapshotCommand::Export { config, batch, out } => {
            let config = Config::load(&config)?;
            let s = runtime.block_on(snapshot::export(&config, batch, &out))?;
            println!(
                "snapshot of batch {} (L2 block {}): {} accounts, {} slots, {} codes, {} headers, {} bytes -> {}",
                s.batch_id,
                s.block,
                s.accounts,
                s.slots,
                s.codes,
                s.headers,
                s.bytes,
                out.display()
            );
        }
        SnapshotCommand::Verify { config, file } => {
            let config = Config::load(&config)?;
            let verified = runtime.block_on(async {
                let reader = snapshot::connect(&config).await?;
                snapshot::read_verified(&reader, &config, &file).await
            })?;
            println!(
                "{}: batch {} (L2 block {}, state root {}) checks out against L1: {} accounts",
                file.display(),
                verified.base.batch_id,
                verified.head.number,
                verified.head.state_root,
                verified.diff.accounts.len()
            );
        }
    }
    Ok(())
}
