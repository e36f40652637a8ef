//! Start from a snapshot vs replay from the genesis, over a long history (1,000 one-block
//! batches by default, each finalized as soon as its window closes).
//!
//! Input: the history's size and this program's binary. Output: wall time, CPU time and peak
//! RSS of three child processes, in the same run: `replay` of the whole history from the
//! genesis; `snapshot export` of a batch near its end from that replay's store; and `replay
//! --snapshot` of the batches after it on a fresh store (which includes reading the file,
//! checking it against L1 and writing it into rocksdb).

use super::audit::{AuditSizes, CHAIN_ID, ChildRun, check_report, child, config, mib};
use crate::proposer::WorkloadSpec;
use crate::proposer::driver::{
    ProposePlan, deploy_dev_rollup, open_proposer, propose_next, signing_provider,
};
use alloy_signer_local::PrivateKeySigner;
use anyhow::Result;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// Everything measured.
#[derive(Debug, Clone)]
pub struct SnapshotFigures {
    pub batches: u64,
    /// The snapshot's batch; the snapshot run replays the batches after it.
    pub at: u64,
    pub l2_txs: usize,
    pub propose: Duration,
    pub genesis: ChildRun,
    pub export: ChildRun,
    pub from_snapshot: ChildRun,
    pub file_bytes: u64,
}

/// Records the history on a fresh dev L1, then measures. `exe` is this program's binary.
pub async fn run(
    sizes: AuditSizes,
    exe: &Path,
    mut progress: impl FnMut(&str),
) -> Result<SnapshotFigures> {
    let node = crate::devnet::Devnet::spawn(crate::devnet::DevnetConfig {
        listen: "127.0.0.1:0".parse()?,
        ..Default::default()
    })
    .await?;
    let key = PrivateKeySigner::from_bytes(&node.accounts[0].private_key)?;
    let from = key.address();
    let provider = signing_provider(&node.http_url, key)?;
    // The dev L1 mines one block per transaction: with a one-block window, batch k can be
    // finalized once batch k + 2 is proposed.
    let (client, params, _) = deploy_dev_rollup(provider, from, CHAIN_ID, |p| {
        p.challenge_window = 1;
        p.max_pending_batches = 8;
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
    let plan = ProposePlan::single(1, workload, params.max_l2_gas_limit);
    let mut proposer =
        open_proposer(&client, CHAIN_ID, &dir.path().join("proposer"), &plan).await?;
    let started = Instant::now();
    let mut l2_txs = 0;
    let mut finalized = 0;
    for i in 1..=sizes.batches {
        let (_, batch, _) = propose_next(&client, &mut proposer, 1, None).await?;
        l2_txs += batch.blocks.iter().map(|b| b.transactions.len()).sum::<usize>();
        while finalized + 2 < i {
            client.finalize(finalized + 1).await?;
            finalized += 1;
        }
        if i % 100 == 0 || i == sizes.batches {
            progress(&format!("snapshot: proposed {i} of {} batches", sizes.batches));
        }
    }
    let propose = started.elapsed();
    let at = finalized;
    let after = sizes.batches - at;
    let to = sizes.batches.to_string();
    let replay_args = |name: &str, from: u64| -> Result<Vec<String>> {
        let state = dir.path().join(name);
        std::fs::create_dir_all(&state)?;
        let cfg = state.join("replay.toml");
        std::fs::write(&cfg, config(&state.join("l2"), &node.http_url, client.address()))?;
        Ok(vec![
            "replay".into(),
            "--config".into(),
            cfg.display().to_string(),
            "--from".into(),
            from.to_string(),
            "--to".into(),
            to.clone(),
            "--report".into(),
            state.join("report.json").display().to_string(),
            "--wait-secs".into(),
            "30".into(),
        ])
    };
    let genesis_args = replay_args("genesis", 1)?;
    let genesis = child(exe, &genesis_args, &dir.path().join("genesis.log")).await?;
    check_report(&dir.path().join("genesis").join("report.json"), sizes.batches)?;
    progress(&format!("snapshot: replay from the genesis {:.2} s", genesis.wall.as_secs_f64()));

    let file = dir.path().join(format!("batch-{at}.snapshot"));
    let export_args = vec![
        "snapshot".into(),
        "export".into(),
        "--config".into(),
        dir.path().join("genesis").join("replay.toml").display().to_string(),
        "--batch".into(),
        at.to_string(),
        "--out".into(),
        file.display().to_string(),
    ];
    let export = child(exe, &export_args, &dir.path().join("export.log")).await?;
    let file_bytes = std::fs::metadata(&file)?.len();
    progress(&format!("snapshot: export of batch {at} {:.2} s", export.wall.as_secs_f64()));

    let mut snapshot_args = replay_args("from-snapshot", at + 1)?;
    snapshot_args.extend(["--snapshot".into(), file.display().to_string()]);
    let from_snapshot = child(exe, &snapshot_args, &dir.path().join("from-snapshot.log")).await?;
    check_report(&dir.path().join("from-snapshot").join("report.json"), after)?;
    progress(&format!("snapshot: start from it {:.2} s", from_snapshot.wall.as_secs_f64()));
    node.stop().await;
    Ok(SnapshotFigures {
        batches: sizes.batches,
        at,
        l2_txs,
        propose,
        genesis,
        export,
        from_snapshot,
        file_bytes,
    })
}

pub fn progress_line(f: &SnapshotFigures) -> String {
    format!(
        "snapshot: {} batches: from the genesis {:.2} s, from batch {}'s snapshot {:.2} s",
        f.batches,
        f.genesis.wall.as_secs_f64(),
        f.at,
        f.from_snapshot.wall.as_secs_f64()
    )
}

/// The markdown section; `quick` says the history is the smoke-test size.
pub fn section(f: &SnapshotFigures, quick: bool) -> String {
    let mut out =
        String::from("\n## Snapshot: start from a finalized batch vs from the genesis\n\n");
    let size = if quick { "`--quick` history (the smoke-test size)" } else { "full history" };
    let _ = write!(
        out,
        "Measured by `native-challenger bench` (`--only snapshot` for this section alone), {size}: \
         {} one-block batches ({} L2 transactions) proposed to the rollup contract on the embedded \
         dev L1 ({:.1} s to propose), each finalized as soon as its one-block window closed. \
         Three child processes in the same run, as an operator runs them: `replay --from 1` of the \
         whole history on a fresh store; `snapshot export` of batch {} (the last finalized one) \
         from that store; `replay --snapshot` of the {} batches after it on another fresh store, \
         which includes reading the file, checking it against L1 (format, checksum, header chain, \
         state root rebuilt from every account and slot), writing it to rocksdb and seeding the \
         watcher's records. Both replays end caught up at batch {}. The dev L1 runs in the bench \
         process on the same {} cores.\n\n",
        f.batches,
        f.l2_txs,
        f.propose.as_secs_f64(),
        f.at,
        f.batches - f.at,
        f.batches,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    out.push_str(
        "| run | batches replayed | wall (s) | CPU (s) | peak RSS (MiB) | wall vs genesis |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    let base = f.genesis.wall.as_secs_f64().max(1e-9);
    let rows = [
        ("`replay --from 1` (from the genesis)", f.batches, f.genesis),
        ("`snapshot export`", 0, f.export),
        ("`replay --snapshot` (from the snapshot)", f.batches - f.at, f.from_snapshot),
    ];
    for (name, replayed, r) in rows {
        let wall = r.wall.as_secs_f64();
        let _ = writeln!(
            out,
            "| {name} | {replayed} | {wall:.2} | {:.2} | {:.0} | {:.2}x |",
            r.cpu.as_secs_f64(),
            mib(r.peak_rss_kib),
            wall / base,
        );
    }
    let _ = writeln!(
        out,
        "\nThe snapshot file: {:.1} KiB. The dev L2's state is small (the dev users, the storage \
         writer, the workload's token and recipients), so the start from it is dominated by \
         process start, connecting and the L1 reads; the replay from the genesis grows with the \
         history, the start from a snapshot with the state.",
        f.file_bytes as f64 / 1024.0
    );
    out
}
