//! Audit throughput: `replay` over a long recorded history (1,000 one-block batches by
//! default) and `verify-bundle` of its bundle on 1 and 2 cores, with wall time, CPU time and
//! peak resident memory of each run.
//!
//! The history is real: the embedded dev L1 serves JSON-RPC, the proposer signs and sends
//! every batch. The commands run as child processes of this binary, exactly as an auditor
//! runs them, so their peak RSS is their own (sampled `VmHWM`, see [`wait_measured`]). Baseline in the same
//! run: replaying the same L2 blocks with `execute_on_store` alone, in this process, with no
//! L1 reads, no decoding and no bookkeeping.

use crate::daemon::open_l2_store;
use crate::execute_local::chain::ChainRules;
use crate::execute_local::forks::{Network, network};
use crate::execute_local::l2::L2Block;
use crate::execute_local::replay::execute_on_store;
use crate::proposer::WorkloadSpec;
use crate::proposer::driver::{
    DEV_L2_USERS, ProposePlan, deploy_dev_rollup, open_proposer, propose_next, signing_provider,
};
use alloy_provider::Provider;
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub(super) const CHAIN_ID: u64 = 901;

/// The history's size.
#[derive(Debug, Clone, Copy)]
pub struct AuditSizes {
    pub batches: u64,
    pub txs_per_block: usize,
}

impl AuditSizes {
    pub const FULL: Self = Self { batches: 1_000, txs_per_block: 24 };
    pub const QUICK: Self = Self { batches: 12, txs_per_block: 8 };
}

/// Wall time, CPU time and peak RSS of one child process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChildRun {
    pub wall: Duration,
    pub cpu: Duration,
    pub peak_rss_kib: u64,
}

/// Everything measured.
#[derive(Debug, Clone)]
pub struct AuditFigures {
    pub batches: u64,
    pub l2_txs: usize,
    pub l2_gas: u64,
    pub l1_blocks: u64,
    /// Proposing the history (building, signing, sending, mining every batch).
    pub propose: Duration,
    /// `execute_on_store` of the same blocks, in-process.
    pub baseline: Duration,
    pub replay: ChildRun,
    pub replay_export: ChildRun,
    pub bundle_files: usize,
    pub bundle_bytes: u64,
    /// `verify-bundle --jobs N`, by N.
    pub verify: Vec<(usize, ChildRun)>,
}

/// Records the history on a fresh dev L1, then measures. `exe` is this program's binary.
pub async fn run(
    sizes: AuditSizes,
    exe: &Path,
    mut progress: impl FnMut(&str),
) -> Result<AuditFigures> {
    let node = crate::devnet::Devnet::spawn(crate::devnet::DevnetConfig {
        listen: "127.0.0.1:0".parse()?,
        ..Default::default()
    })
    .await?;
    let key = PrivateKeySigner::from_bytes(&node.accounts[0].private_key)?;
    let from = key.address();
    let provider = signing_provider(&node.http_url, key)?;
    let (client, params, _) = deploy_dev_rollup(provider, from, CHAIN_ID, |p| {
        p.max_pending_batches = sizes.batches + 8;
        p.proposer_bond = alloy_primitives::utils::parse_ether("0.01").unwrap_or_default();
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let workload = WorkloadSpec {
        txs_per_block: sizes.txs_per_block,
        transfers: 8,
        erc20: 4,
        deploys: 0,
        storage: 2,
        p256: 0,
        seed: 11,
    };
    // Batches are proposed one by one below (`propose_next`), so the plan holds one.
    let plan = ProposePlan::single(1, workload, params.max_l2_gas_limit);
    let mut proposer =
        open_proposer(&client, CHAIN_ID, &dir.path().join("proposer"), &plan).await?;
    let started = Instant::now();
    let mut blocks = Vec::new();
    let mut l2_gas = 0;
    for i in 1..=sizes.batches {
        let (_, batch, _) = propose_next(&client, &mut proposer, 1, None).await?;
        l2_gas += batch.honest.iter().map(|c| c.gas_used).sum::<u64>();
        blocks.extend(batch.blocks);
        if i % 100 == 0 || i == sizes.batches {
            progress(&format!("audit: proposed {i} of {} batches", sizes.batches));
        }
    }
    let propose = started.elapsed();
    let l1_blocks = client.provider().get_block_number().await?;

    // Baseline: the same blocks into a fresh store, in-process.
    let reader = client.provider().clone();
    let rules = match network(crate::execute_local::forks::DEFAULT_FORK) {
        Network::Supported(schedule) => ChainRules::new(CHAIN_ID, schedule),
        Network::Skipped { reason } => bail!("the default fork: {reason}"),
    };
    let store = open_l2_store(
        &reader,
        client.address(),
        CHAIN_ID,
        DEV_L2_USERS,
        &dir.path().join("baseline"),
    )
    .await?;
    let started = Instant::now();
    for inputs in &blocks {
        // Decoding (with sender recovery) is part of replaying, as in the watcher.
        let block = L2Block::new(inputs.clone())?;
        execute_on_store(&store, &rules, &block)?.commit(&store)?;
    }
    let baseline = started.elapsed();
    drop(store);
    progress(&format!("audit: baseline {:.2} s", baseline.as_secs_f64()));

    let to = sizes.batches.to_string();
    let replay_args = |name: &str| -> Result<Vec<String>> {
        let state = dir.path().join(name);
        std::fs::create_dir_all(&state)?;
        let cfg = state.join("replay.toml");
        std::fs::write(&cfg, config(&state.join("l2"), &node.http_url, client.address()))?;
        Ok(vec![
            "replay".into(),
            "--config".into(),
            cfg.display().to_string(),
            "--from".into(),
            "1".into(),
            "--to".into(),
            to.clone(),
            "--report".into(),
            state.join("report.json").display().to_string(),
            "--wait-secs".into(),
            "30".into(),
        ])
    };
    let args = replay_args("replay")?;
    let replay = child(exe, &args, &dir.path().join("replay.log")).await?;
    check_report(&dir.path().join("replay").join("report.json"), sizes.batches)?;
    progress(&format!("audit: replay {:.2} s", replay.wall.as_secs_f64()));

    let bundle = dir.path().join("bundle");
    let mut args = replay_args("export")?;
    args.extend(["--export-bundles".into(), bundle.display().to_string()]);
    let replay_export = child(exe, &args, &dir.path().join("export.log")).await?;
    check_report(&dir.path().join("export").join("report.json"), sizes.batches)?;
    let (bundle_files, bundle_bytes) = bundle_size(&bundle)?;
    progress(&format!("audit: replay with export {:.2} s", replay_export.wall.as_secs_f64()));
    node.stop().await;

    let mut verify = Vec::new();
    for jobs in [1usize, 2] {
        let args = vec![
            "verify-bundle".into(),
            bundle.display().to_string(),
            "--jobs".into(),
            jobs.to_string(),
        ];
        let run = child(exe, &args, &dir.path().join(format!("verify-{jobs}.log"))).await?;
        progress(&format!("audit: verify-bundle --jobs {jobs} {:.2} s", run.wall.as_secs_f64()));
        verify.push((jobs, run));
    }
    Ok(AuditFigures {
        batches: sizes.batches,
        l2_txs: blocks.iter().map(|b| b.transactions.len()).sum(),
        l2_gas,
        l1_blocks,
        propose,
        baseline,
        replay,
        replay_export,
        bundle_files,
        bundle_bytes,
        verify,
    })
}

/// A replay configuration over the dev L1 (confirmation depth 0: the dev L1 mines on demand,
/// so no later block would ever confirm the last proposal).
pub(super) fn config(store: &Path, rpc: &str, rollup: alloy_primitives::Address) -> String {
    format!(
        "[chain]\nchain_id = {CHAIN_ID}\n[store]\npath = \"{}\"\n[l1]\nrpc = [\"{rpc}\"]\n\
         rollup = \"{rollup}\"\nconfirmations = 0\npoll_interval_ms = 100\n",
        store.display()
    )
}

/// The replay's report must hold every batch, all valid.
pub(super) fn check_report(path: &Path, batches: u64) -> Result<()> {
    let report: crate::audit::report::Report =
        serde_json::from_slice(&std::fs::read(path).with_context(|| path.display().to_string())?)?;
    let t = &report.totals;
    if (t.batches, t.valid) != (batches, batches) {
        bail!(
            "{}: {} batches, {} valid; expected {batches} valid",
            path.display(),
            t.batches,
            t.valid
        );
    }
    Ok(())
}

fn bundle_size(dir: &Path) -> Result<(usize, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().ends_with(".bin") {
            files += 1;
            bytes += entry.metadata()?.len();
        }
    }
    Ok((files, bytes))
}

/// Runs `exe args` to completion (output to `log`) on a blocking thread, so the dev L1 keeps
/// serving; fails if it exits non-zero.
pub(super) async fn child(exe: &Path, args: &[String], log: &Path) -> Result<ChildRun> {
    let (exe, args, log): (PathBuf, Vec<String>, PathBuf) =
        (exe.to_path_buf(), args.to_vec(), log.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let out = std::fs::File::create(&log)?;
        let mut command = Command::new(&exe);
        command.args(&args).stdout(Stdio::null()).stderr(out);
        let (status, run) = wait_measured(&mut command)?;
        if !status.success() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            bail!("{} {}: {status}\n{text}", exe.display(), args.join(" "));
        }
        Ok(run)
    })
    .await?
}

/// Spawns `command` and waits for it, sampling its peak RSS (`VmHWM` in /proc/PID/status)
/// every 10 ms, and reaps it with `wait4` for its CPU time.
///
/// Not `ru_maxrss`: std spawns with `CLONE_VM`, and Linux folds the memory the child shared
/// with this (large) process before `exec` into the child's `ru_maxrss`. `VmHWM` belongs to
/// the new program's own address space. It is a high-water mark, so a late sample still sees
/// an earlier peak; only growth in the last 10 ms before exit can be missed.
fn wait_measured(command: &mut Command) -> Result<(ExitStatus, ChildRun)> {
    use std::os::unix::process::ExitStatusExt;
    let started = Instant::now();
    let child = command.spawn().context("starting the child process")?;
    let pid = libc::pid_t::try_from(child.id()).context("child pid")?;
    let status_file = PathBuf::from(format!("/proc/{pid}/status"));
    let mut peak_rss_kib = 0;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        if let Some(kib) = std::fs::read_to_string(&status_file).ok().as_deref().and_then(vm_hwm) {
            peak_rss_kib = peak_rss_kib.max(kib);
        }
        // SAFETY: `pid` is our own child, not yet reaped (std's `Child` is dropped without
        // waiting); `status` and `usage` are valid, exclusive pointers for the call.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        match reaped {
            0 => std::thread::sleep(Duration::from_millis(10)),
            r if r == pid => break,
            _ => bail!("wait4: {}", std::io::Error::last_os_error()),
        }
    }
    let wall = started.elapsed();
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    let run = ChildRun { wall, cpu: time(usage.ru_utime) + time(usage.ru_stime), peak_rss_kib };
    Ok((ExitStatus::from_raw(status), run))
}

/// The `VmHWM:` line of /proc/PID/status, in KiB.
fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()
}

pub fn progress_line(f: &AuditFigures) -> String {
    format!(
        "audit: {} batches, {:.1} L2 Mgas: replay {:.2} s ({:.1} Mgas/s), baseline {:.2} s",
        f.batches,
        f.l2_gas as f64 / 1e6,
        f.replay.wall.as_secs_f64(),
        mgas_per_second(f.l2_gas, f.replay.wall),
        f.baseline.as_secs_f64()
    )
}

pub(super) fn mgas_per_second(gas: u64, took: Duration) -> f64 {
    let secs = took.as_secs_f64();
    if secs > 0.0 { gas as f64 / 1e6 / secs } else { 0.0 }
}

pub(super) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The markdown section.
pub fn section(f: &AuditFigures) -> String {
    let mut out = String::from("\n## Audit: replay and bundle verification\n\n");
    let _ = write!(
        out,
        "Measured by `native-challenger bench` (`--only audit` for this section alone). The history: \
         {} one-block batches proposed by the proposer to the rollup contract on the embedded dev L1 \
         (real signed transactions over JSON-RPC, {} L1 blocks, {:.1} s to propose), {} L2 \
         transactions (transfers, ERC-20 transfers, storage writes), {:.1} L2 Mgas. `replay` and \
         `verify-bundle` run as child processes of the bench, as an auditor runs them; wall time \
         includes starting, opening rocksdb and every L1 read. Peak RSS is each child's own \
         high-water mark (`VmHWM` of /proc/PID/status, sampled every 10 ms). The dev L1 serving the replay runs in the bench process on the same {} cores. \
         Baseline, same run: the same blocks decoded (senders recovered) and replayed with \
         `execute_on_store` alone, in-process (no L1 reads, no log decoding, no batch records).\n\n",
        f.batches,
        f.l1_blocks,
        f.propose.as_secs_f64(),
        f.l2_txs,
        f.l2_gas as f64 / 1e6,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    out.push_str(
        "| run | wall (s) | batches/s | L2 Mgas/s | CPU (s) | peak RSS (MiB) | wall vs baseline |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    let base = f.baseline.as_secs_f64();
    let _ = writeln!(
        out,
        "| baseline: `execute_on_store` | {base:.2} | {:.0} | {:.1} | – | – | 1.00x |",
        f.batches as f64 / base.max(1e-9),
        mgas_per_second(f.l2_gas, f.baseline),
    );
    for (name, r) in [("`replay`", f.replay), ("`replay --export-bundles`", f.replay_export)] {
        let wall = r.wall.as_secs_f64();
        let _ = writeln!(
            out,
            "| {name} | {wall:.2} | {:.0} | {:.1} | {:.2} | {:.0} | {:.2}x |",
            f.batches as f64 / wall.max(1e-9),
            mgas_per_second(f.l2_gas, r.wall),
            r.cpu.as_secs_f64(),
            mib(r.peak_rss_kib),
            wall / base.max(1e-9),
        );
    }
    let _ = write!(
        out,
        "\nThe bundle: {} block files, {:.1} MiB (each a self-contained EXECUTE input: the block and \
         its witness).\n\n\
         | `verify-bundle` | wall (s) | blocks/s | L2 Mgas/s | CPU (s) | peak RSS (MiB) | speed-up vs 1 job |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
        f.bundle_files,
        f.bundle_bytes as f64 / (1024.0 * 1024.0)
    );
    let one = f.verify.first().map_or(0.0, |(_, r)| r.wall.as_secs_f64());
    for (jobs, r) in &f.verify {
        let wall = r.wall.as_secs_f64();
        let _ = writeln!(
            out,
            "| `--jobs {jobs}` | {wall:.2} | {:.0} | {:.1} | {:.2} | {:.0} | {:.2}x |",
            f.bundle_files as f64 / wall.max(1e-9),
            mgas_per_second(f.l2_gas, r.wall),
            r.cpu.as_secs_f64(),
            mib(r.peak_rss_kib),
            one / wall.max(1e-9),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_from_the_status_file() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(vm_hwm(status), Some(1234));
        assert_eq!(vm_hwm("Name:\tzombie\n"), None);
    }

    #[test]
    fn a_child_that_allocates_shows_its_own_peak_not_ours() {
        // Hold ~64 MiB here; a small child must not be charged for it.
        let ballast = vec![1u8; 64 << 20];
        let (status, small) = wait_measured(Command::new("sleep").arg("0.2")).expect("run sleep");
        assert!(status.success());
        assert!(small.peak_rss_kib > 0, "sleep was never sampled");
        assert!(small.peak_rss_kib < 32 << 10, "sleep: {} KiB", small.peak_rss_kib);
        // dd fills a 100 MiB buffer (bs) a few times: it is seen holding it.
        let (status, big) = wait_measured(
            Command::new("dd")
                .args(["if=/dev/zero", "of=/dev/null", "bs=100M", "count=20"])
                .stderr(Stdio::null()),
        )
        .expect("run dd");
        assert!(status.success());
        assert!(big.peak_rss_kib > 90 << 10, "dd: {} KiB", big.peak_rss_kib);
        assert!(ballast.iter().all(|b| *b == 1));
    }
}
