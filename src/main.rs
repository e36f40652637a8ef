//! The `native-challenger` command line.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use native_challenger::conformance::runner::Outcome;
use native_challenger::conformance::suite::{SuiteReport, run_suite};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "native-challenger", version, about = "Keeps an Ethereum native rollup honest")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Ethereum BlockchainTests through stateful replay and stateless verification.
    Conformance {
        /// Test files or directories (searched recursively for *.json).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Write a JSON report here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Worker threads (default: available cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Directory for the per-test rocksdb stores (default: a temporary directory).
        #[arg(long)]
        scratch: Option<PathBuf>,
        /// Tests known to fail, one name per line (`#` comments): the run succeeds only if
        /// exactly these fail. They are still counted as failed in the summary.
        #[arg(long)]
        expect_failures: Option<PathBuf>,
    },
    /// Measure replay, witness recording and stateless verification against raw revm.
    Bench {
        /// Small sizes, for a smoke run.
        #[arg(long)]
        quick: bool,
        /// The fixture workloads directory (skipped if absent).
        #[arg(long, default_value = "../shared/fixtures/workloads")]
        workloads: PathBuf,
        /// Where to write the markdown report.
        #[arg(long, default_value = "docs/benchmarks.md")]
        out: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Conformance { paths, json, jobs, scratch, expect_failures } => {
            conformance(&paths, json, jobs, scratch, expect_failures)
        }
        Command::Bench { quick, workloads, out } => bench(quick, &workloads, &out),
    }
}

fn conformance(
    paths: &[PathBuf],
    json: Option<PathBuf>,
    jobs: Option<usize>,
    scratch: Option<PathBuf>,
    expect_failures: Option<PathBuf>,
) -> Result<()> {
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let temp = tempfile::tempdir().context("creating a scratch directory")?;
    let scratch = scratch.unwrap_or_else(|| temp.path().to_path_buf());
    let started = std::time::Instant::now();
    let report = run_suite(paths, jobs, &scratch).context("loading fixtures")?;
    print_report(&report, started.elapsed());
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let expected = match expect_failures {
        Some(path) => read_expected(&path)?,
        None => std::collections::BTreeSet::new(),
    };
    let failed: std::collections::BTreeSet<String> = report
        .tests
        .iter()
        .filter(|t| matches!(t.outcome, Outcome::Failed { .. }))
        .map(|t| t.test.clone())
        .collect();
    let unexpected: Vec<_> = failed.difference(&expected).collect();
    let now_passing: Vec<_> = expected.difference(&failed).collect();
    if !now_passing.is_empty() {
        println!("expected to fail but did not (update the list): {now_passing:?}");
    }
    if !unexpected.is_empty() || !now_passing.is_empty() {
        bail!(
            "{} unexpected conformance failures, {} expected failures not seen",
            unexpected.len(),
            now_passing.len()
        );
    }
    if !failed.is_empty() {
        println!("all {} failures are the known, documented ones", failed.len());
    }
    Ok(())
}

fn read_expected(path: &std::path::Path) -> Result<std::collections::BTreeSet<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect())
}

fn print_report(report: &SuiteReport, elapsed: std::time::Duration) {
    for test in &report.tests {
        if let Outcome::Failed { mode, reason } = &test.outcome {
            println!("FAIL {} {} [{mode:?}]: {reason}", test.file, test.test);
        }
    }
    for (reason, count) in report.skip_reasons() {
        println!("skipped {count}: {reason}");
    }
    let witness: usize = report
        .tests
        .iter()
        .map(|t| match t.outcome {
            Outcome::Passed { witness_bytes, .. } => witness_bytes,
            _ => 0,
        })
        .sum();
    println!(
        "stateless witnesses verified: {witness} bytes in total; {:.1} s",
        elapsed.as_secs_f64()
    );
    println!("{}", report.summary_line());
}

fn bench(quick: bool, workloads_dir: &std::path::Path, out: &std::path::Path) -> Result<()> {
    use native_challenger::bench;
    let sizes = if quick { bench::Sizes::QUICK } else { bench::Sizes::FULL };
    let fixtures = workloads_dir.is_dir().then_some(workloads_dir);
    let workloads = bench::all_workloads(sizes, fixtures)?;
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let figures = bench::run(&workloads, scratch.path(), |f| println!("{}", bench::row(f)))?;
    let report = bench::report(&figures, sizes, &machine());
    std::fs::write(out, report).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cores} cores, {cpu}")
}
