//! `native-challenger replay --config config.toml --from <batch> --to <batch>
//! [--export-bundles DIR] [--report report.json]`: replays a range of batches from L1 data
//! alone (no key), prints progress lines on stderr, and writes the JSON report (stdout
//! without `--report`). Its state (`[store] path`) makes an interrupted run resumable; use a
//! configuration of its own, not the daemon's (the stores are locked while open).

use anyhow::{Context, Result};
use native_challenger::audit::open::{RangeOptions, replay_range};
use native_challenger::config::Config;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[arg(long, default_value = "config.toml")]
    config: PathBuf,
    /// First batch id of the report.
    #[arg(long)]
    from: u64,
    /// Last batch id: the replay stops once it is checked.
    #[arg(long)]
    to: u64,
    /// Write an audit bundle (one EXECUTE input per L2 block checked, and a manifest) here.
    #[arg(long)]
    export_bundles: Option<PathBuf>,
    /// Write the JSON report here (default: stdout).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Give up when caught up with L1 this long without seeing batch --to.
    #[arg(long, default_value_t = 120)]
    wait_secs: u64,
}

pub fn run(args: ReplayArgs) -> Result<()> {
    let config = Config::load(&args.config)?;
    let options = RangeOptions {
        from: args.from,
        to: args.to,
        export_bundles: args.export_bundles.clone(),
        wait: Duration::from_secs(args.wait_secs),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(replay_range(&config, &options, |line| eprintln!("{line}")))?;
    let json = serde_json::to_string_pretty(&report)?;
    match &args.report {
        Some(path) => std::fs::write(path, json).with_context(|| format!("{}", path.display()))?,
        None => println!("{json}"),
    }
    let t = &report.totals;
    eprintln!(
        "replay: {} batches: {} valid, {} invalid, {} skipped; {:.2} Mgas/s",
        t.batches, t.valid, t.invalid, t.skipped, t.mgas_per_second
    );
    Ok(())
}
