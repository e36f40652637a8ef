//! The daemon binary killed with SIGKILL at random moments (while replaying, between commit
//! and reveal, after sending) and restarted each time: exactly one bond deposit, one
//! commitment and one conviction; nothing is submitted twice.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::hex;
use alloy_provider::Provider;
use alloy_rpc_types_eth::Filter;
use alloy_sol_types::SolEvent;
use common::e2e::{E2e, dev_key};
use native_challenger::proposer::Fault;
use native_challenger::rollup::NativeRollup;
use rand::Rng;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEY_VAR: &str = "NC_E2E_KILL_CHALLENGER_KEY";

fn write_config(e: &E2e) -> std::path::PathBuf {
    let dir = e.dir.path().join("daemon");
    std::fs::create_dir_all(&dir).expect("dir");
    let text = format!(
        "[chain]\nchain_id = 901\n[store]\npath = \"{}\"\n[l1]\nrpc = [\"{}\"]\nrollup = \"{}\"\npoll_interval_ms = 100\n\
         [challenger]\nkey_env = \"{KEY_VAR}\"\nresubmit_after_secs = 4\n[log]\nlevel = \"info\"\n",
        dir.join("l2").display(),
        e.node.http_url,
        e.client.address()
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn spawn(e: &E2e, config: &std::path::Path, round: usize) -> Child {
    let log = std::fs::File::create(e.dir.path().join(format!("daemon-{round}.log"))).expect("log");
    Command::new(env!("CARGO_BIN_EXE_native-challenger"))
        .args(["run", "--config"])
        .arg(config)
        .env(KEY_VAR, hex::encode(dev_key(1, &e.node).to_bytes()))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the daemon starts")
}

async fn count<E: SolEvent>(e: &E2e) -> usize {
    let filter =
        Filter::new().address(e.client.address()).event_signature(E::SIGNATURE_HASH).from_block(0);
    e.client.provider().get_logs(&filter).await.expect("logs").len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_then_restart_convicts_exactly_once() {
    let mut e = E2e::new(600, Duration::from_millis(250)).await;
    let config = write_config(&e);
    e.propose(None).await;
    let (lie_id, _) = e.propose(Some(Fault::WrongPostRoot { block: 1 })).await;
    e.propose(None).await;
    let mut rng = rand::rng();
    let delays: Vec<u64> = (0..4).map(|_| rng.random_range(150..2_500)).collect();
    println!("SIGKILL after {delays:?} ms");
    for (round, delay) in delays.iter().enumerate() {
        let mut child = spawn(&e, &config, round);
        tokio::time::sleep(Duration::from_millis(*delay)).await;
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }
    let mut child = spawn(&e, &config, delays.len());
    let deadline = Instant::now() + Duration::from_secs(90);
    while e.status(lie_id).await != 3 {
        if Instant::now() > deadline {
            let _ = child.kill();
            let logs: Vec<String> = (0..=delays.len())
                .map(|r| {
                    std::fs::read_to_string(e.dir.path().join(format!("daemon-{r}.log")))
                        .unwrap_or_default()
                })
                .collect();
            panic!(
                "no conviction within 90 s; daemon logs:\n{}",
                logs.join("\n----- restart -----\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let the last run finish what it does after landing (claiming the reward).
    tokio::time::sleep(Duration::from_secs(2)).await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert_eq!(count::<NativeRollup::ProposerConvicted>(&e).await, 1);
    assert_eq!(count::<NativeRollup::ChallengeCommitted>(&e).await, 1, "committed once");
    assert_eq!(count::<NativeRollup::ChallengerBondDeposited>(&e).await, 1, "bonded once");
    let challenger = dev_key(1, &e.node).address();
    let sent = e.client.provider().get_transaction_count(challenger).await.expect("nonce");
    assert!((3..=4).contains(&sent), "deposit, commit, reveal (and claim): {sent} transactions");
}
