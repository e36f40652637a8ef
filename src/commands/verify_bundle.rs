//! `native-challenger verify-bundle DIR [--jobs N]`: re-checks an audit bundle offline with
//! the stateless verifier alone; prints the result as JSON on stdout and every disagreement
//! on stderr; fails (non-zero exit) on any disagreement.

use anyhow::{Result, bail};
use native_challenger::audit::verify::verify_bundle;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct VerifyBundleArgs {
    /// The bundle directory (holding manifest.json).
    dir: PathBuf,
    /// Worker threads (default: available cores).
    #[arg(long)]
    jobs: Option<usize>,
}

pub fn run(args: VerifyBundleArgs) -> Result<()> {
    let jobs =
        args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let report = verify_bundle(&args.dir, jobs)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    for d in &report.disagreements {
        eprintln!("block {} ({}): {}", d.block, d.file, d.reason);
    }
    if !report.disagreements.is_empty() {
        bail!("{} of {} blocks disagree", report.disagreements.len(), report.blocks);
    }
    eprintln!("verify-bundle: all {} blocks verified", report.blocks);
    Ok(())
}
