//! The `native-challenger` command line.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use native_challenger::conformance::runner::Outcome;
use native_challenger::conformance::suite::{SuiteReport, run_suite};
use std::path::PathBuf;

mod commands;

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
    /// Run the embedded dev L1 (JSON-RPC over HTTP and WebSocket, with EXECUTE) until ctrl-c.
    Devnet(DevnetArgs),
    /// The embedded default: dev L1, contracts, a lying proposer and the challenger catching it.
    Demo(commands::demo::DemoArgs),
    /// Run the challenger daemon (watcher, and submitter unless --watch-only).
    Run(commands::run::RunArgs),
    /// Ask a running daemon how it is doing (its /status and /healthz) and print a summary.
    Status(commands::status::StatusArgs),
    /// The challenger's bond and rewards: deposit, withdraw, status, claim.
    Bond(commands::bond::BondArgs),
    /// Build L2 blocks from a workload and propose them to a rollup contract, optionally lying.
    Propose(commands::propose::ProposeArgs),
    /// Replay a range of batches from L1 data alone (no key) and report a verdict per batch.
    Replay(commands::replay::ReplayArgs),
    /// Export the L2 state at a finalized batch, or check a snapshot file against L1.
    Snapshot(commands::snapshot::SnapshotArgs),
    /// Print the L2 state root, genesis block hash and counts of a geth genesis file.
    Genesis(commands::genesis::GenesisArgs),
    /// Re-check an audit bundle offline with the stateless verifier alone.
    VerifyBundle(commands::verify_bundle::VerifyBundleArgs),
    /// Measure replay, witness recording and stateless verification against raw revm,
    /// EXECUTE's throughput and L1 gas on typical L2 blocks, and its charge against its CPU on
    /// worst-case traces.
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
        /// Run one section only and replace it in the existing report (the rest is kept).
        #[arg(long, value_enum)]
        only: Option<BenchSection>,
    },
}

/// Options of `native-challenger devnet`; defaults are anvil's.
#[derive(Debug, clap::Args)]
struct DevnetArgs {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, short, default_value_t = 8545)]
    port: u16,
    #[arg(long, default_value_t = 31337)]
    chain_id: u64,
    /// The fork the L1 (and EXECUTE's L2 blocks) run under.
    #[arg(long, default_value = native_challenger::execute_local::forks::DEFAULT_FORK)]
    fork: String,
    #[arg(long, default_value_t = 30_000_000)]
    gas_limit: u64,
    /// Genesis base fee in wei.
    #[arg(long, default_value_t = 1_000_000_000)]
    base_fee: u64,
    /// Mine a block every N seconds instead of one per transaction.
    #[arg(long, short)]
    block_time: Option<u64>,
    /// Mine only on evm_mine.
    #[arg(long, conflicts_with = "block_time")]
    no_mining: bool,
    /// Number of prefunded dev accounts.
    #[arg(long, short, default_value_t = 10)]
    accounts: u32,
    /// Balance of each dev account, in ether.
    #[arg(long, default_value = "10000")]
    balance: String,
    /// BIP-39 mnemonic of the dev accounts.
    #[arg(long, default_value = native_challenger::devnet::DEFAULT_MNEMONIC)]
    mnemonic: String,
    /// Fixed genesis timestamp (reproducible genesis).
    #[arg(long)]
    timestamp: Option<u64>,
    /// Address of the EXECUTE precompile.
    #[arg(long, default_value_t = native_challenger::precompile::DEFAULT_EXECUTE_ADDRESS)]
    execute_address: alloy_primitives::Address,
    /// Cumulative EXECUTE gas per L1 block.
    #[arg(long, default_value_t = native_challenger::precompile::DEFAULT_EXECUTE_BLOCK_GAS_LIMIT)]
    execute_block_gas_limit: u64,
    /// Keep the chain in this directory and resume it on restart (default: in memory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // `run` sets logging up from its configuration (text or JSON).
    if !matches!(cli.command, Command::Run(_)) {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    match run(cli) {
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
        Command::Bench { quick, workloads, out, only } => bench(quick, &workloads, &out, only),
        Command::Devnet(args) => devnet(args),
        Command::Propose(args) => commands::propose::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Status(args) => commands::status::run(args),
        Command::Bond(args) => commands::bond::run(args),
        Command::Replay(args) => commands::replay::run(args),
        Command::Snapshot(args) => commands::snapshot::run(args),
        Command::VerifyBundle(args) => commands::verify_bundle::run(args),
        Command::Genesis(args) => commands::genesis::run(args),
    }
}

fn devnet(args: DevnetArgs) -> Result<()> {
    use native_challenger::devnet::{Devnet, DevnetConfig};
    let balance = alloy_primitives::utils::parse_ether(&args.balance)
        .with_context(|| format!("--balance {:?} is not an ether amount", args.balance))?;
    let config = DevnetConfig {
        chain_id: args.chain_id,
        fork: args.fork,
        gas_limit: args.gas_limit,
        base_fee: args.base_fee,
        block_time: args.block_time.map(std::time::Duration::from_secs),
        automine: !args.no_mining,
        mnemonic: args.mnemonic,
        accounts: args.accounts,
        balance,
        genesis_timestamp: args.timestamp,
        execute_address: args.execute_address,
        execute_block_gas_limit: args.execute_block_gas_limit,
        data_dir: args.data_dir,
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], args.port)),
        ..DevnetConfig::default()
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let node = Devnet::spawn(config.clone()).await?;
        println!("native-challenger devnet (chain id {}, fork {})", config.chain_id, config.fork);
        println!();
        println!(
            "Available accounts ({} ETH each)",
            alloy_primitives::utils::format_ether(config.balance)
        );
        println!("==================");
        for (i, account) in node.accounts.iter().enumerate() {
            println!("({i}) {}", account.address);
        }
        println!();
        println!("Private keys");
        println!("==================");
        for (i, account) in node.accounts.iter().enumerate() {
            println!("({i}) {}", account.private_key);
        }
        println!();
        println!(
            "EXECUTE precompile: {} ({} gas per L1 block)",
            config.execute_address, config.execute_block_gas_limit
        );
        match &config.data_dir {
            Some(dir) => println!("Data directory: {}", dir.display()),
            None => println!("State: in memory"),
        }
        println!();
        println!("Listening on {} and {}", node.http_url, node.ws_url);
        tokio::signal::ctrl_c().await.context("waiting for ctrl-c")?;
        println!("shutting down");
        node.stop().await;
        Ok(())
    })
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

/// A section of docs/benchmarks.md that `bench --only` can refresh alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BenchSection {
    Execute,
    Pricing,
    Latency,
    Challenges,
    Audit,
    Snapshot,
}

impl BenchSection {
    /// The section's heading in the report.
    fn heading(self) -> &'static str {
        match self {
            BenchSection::Execute => "## EXECUTE",
            BenchSection::Pricing => "## Pricing",
            BenchSection::Latency => "## Challenger latency",
            BenchSection::Challenges => "## Challenges per workload",
            BenchSection::Audit => "## Audit",
            BenchSection::Snapshot => "## Snapshot",
        }
    }
}

fn bench(
    quick: bool,
    workloads_dir: &std::path::Path,
    out: &std::path::Path,
    only: Option<BenchSection>,
) -> Result<()> {
    use native_challenger::bench;
    let fixtures = workloads_dir.is_dir().then_some(workloads_dir);
    let wanted = |s: BenchSection| only.is_none_or(|o| o == s);
    let mut report = String::new();
    if only.is_none() {
        let sizes = if quick { bench::Sizes::QUICK } else { bench::Sizes::FULL };
        let workloads = bench::all_workloads(sizes, fixtures)?;
        let scratch = tempfile::tempdir().context("creating a scratch directory")?;
        let figures = bench::run(&workloads, scratch.path(), |f| println!("{}", bench::row(f)))?;
        report = bench::report(&figures, sizes, &machine());
    }
    if wanted(BenchSection::Execute) {
        let execute_sizes = if quick {
            bench::execute::ExecuteSizes::QUICK
        } else {
            bench::execute::ExecuteSizes::FULL
        };
        let erc20 = fixtures.map(bench::fixtures::erc20_code).transpose()?;
        let rows = bench::execute::run(&execute_sizes, erc20, |row| {
            println!("{}", bench::execute::progress_line(row))
        })?;
        report.push_str(&bench::execute::section(&rows, &execute_sizes));
    }
    if wanted(BenchSection::Pricing) {
        use bench::execute::pricing;
        let sizes = if quick { pricing::PricingSizes::QUICK } else { pricing::PricingSizes::FULL };
        let figures = pricing::run(&sizes, |line| println!("{line}"))?;
        report.push_str(&pricing::section(&figures));
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    if wanted(BenchSection::Latency) {
        // Blocks of the mixed workload use ~0.65 of their 1M gas limit: 2, 15 and 45 blocks
        // make batches of about 1, 10 and 30 million L2 gas.
        let batch_blocks: &[usize] = if quick { &[1, 3] } else { &[2, 15, 45] };
        let latency = runtime.block_on(bench::latency::run(batch_blocks, |row| {
            println!("{}", bench::latency::progress_line(row))
        }))?;
        report.push_str(&bench::latency::section(&latency));
    }
    if wanted(BenchSection::Challenges) {
        use bench::challenges::{self, ChallengeWorkload};
        let workloads =
            if quick { vec![ChallengeWorkload::Typical] } else { ChallengeWorkload::all() };
        let rows = runtime.block_on(challenges::run(&workloads, |row| {
            println!("{}", challenges::progress_line(row))
        }))?;
        report.push_str(&challenges::section(&rows));
    }
    if wanted(BenchSection::Audit) {
        let sizes =
            if quick { bench::audit::AuditSizes::QUICK } else { bench::audit::AuditSizes::FULL };
        let exe = std::env::current_exe().context("locating this program's binary")?;
        let figures =
            runtime.block_on(bench::audit::run(sizes, &exe, |line| println!("{line}")))?;
        println!("{}", bench::audit::progress_line(&figures));
        report.push_str(&bench::audit::section(&figures));
    }
    if wanted(BenchSection::Snapshot) {
        let sizes =
            if quick { bench::audit::AuditSizes::QUICK } else { bench::audit::AuditSizes::FULL };
        let exe = std::env::current_exe().context("locating this program's binary")?;
        let figures =
            runtime.block_on(bench::snapshot::run(sizes, &exe, |line| println!("{line}")))?;
        println!("{}", bench::snapshot::progress_line(&figures));
        report.push_str(&bench::snapshot::section(&figures, quick));
    }
    if let Some(section) = only {
        let existing = std::fs::read_to_string(out).unwrap_or_default();
        report = bench::replace_section(&existing, section.heading(), &report);
    }
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
