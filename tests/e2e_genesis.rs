//! A rollup over a genesis file, end to end on the dev L1: a geth genesis with thousands of
//! accounts, contracts and storage, the rollup deployed with its root, a proposer lying over
//! it, and the real daemon configured with the file convicting the lie; and a daemon (and an
//! audit) refusing to start from a file whose root is not the contract's.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::{Address, keccak256};
use common::e2e::{E2e, landed};
use native_challenger::config::Config;
use native_challenger::daemon::{Daemon, Event, open_watcher};
use native_challenger::devnet::DevnetConfig;
use native_challenger::proposer::Fault;
use native_challenger::proposer::driver::DEV_L2_USERS;
use native_challenger::rollup::genesis::{STORAGE_WRITER, STORAGE_WRITER_ADDRESS};
use native_challenger::rollup::{GenesisSource, L2Genesis, dev_users};
use native_challenger::watcher::Finding;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const BLOCK_TIME: Duration = Duration::from_millis(250);
const WAIT: Duration = Duration::from_secs(120);
const BACKGROUND: u64 = 5_000;
const CONTRACTS: u64 = 6;
const SLOTS: u64 = 200;

/// A geth genesis in several spellings: the dev users the workload signs with, the storage
/// writer it calls, `BACKGROUND` funded accounts and `CONTRACTS` contracts with storage.
fn genesis_json() -> Value {
    let mut alloc = Map::new();
    for user in dev_users(DEV_L2_USERS) {
        alloc.insert(user.address().to_checksum(None), json!({"balance": "0x3635c9adc5dea00000"}));
    }
    alloc.insert(
        format!("{:x}", STORAGE_WRITER_ADDRESS),
        json!({"nonce": 1, "balance": "0", "code": format!("0x{}", hex::encode(STORAGE_WRITER))}),
    );
    for i in 0..BACKGROUND {
        let address = Address::from_word(keccak256(format!("background {i}")));
        let (key, account) = match i % 3 {
            0 => (address.to_checksum(None), json!({"balance": format!("{}", 1_000 + i)})),
            1 => (
                format!("{address:x}").trim_start_matches("0x").to_string(),
                json!({"balance": format!("0x{:x}", 1_000 + i), "nonce": format!("0x{:x}", i % 7)}),
            ),
            _ => (format!("{address:x}"), json!({"balance": 1_000 + i, "nonce": i % 5})),
        };
        alloc.insert(key, account);
    }
    for c in 0..CONTRACTS {
        let address = Address::from_word(keccak256(format!("contract {c}")));
        let storage: Map<String, Value> = (0..SLOTS)
            .map(|s| {
                let key = format!("0x{:x}", s + c * 1_000);
                let value = format!("0x{}", hex::encode(keccak256(format!("{c}/{s}"))));
                (key, Value::String(value))
            })
            .collect();
        // SLOAD slot 0 and return it: code that reads the storage the file gives it.
        let code = "0x60005460005260206000f3";
        alloc.insert(
            address.to_checksum(None),
            json!({"nonce": "0x1", "balance": "0x0", "code": code, "storage": storage}),
        );
    }
    json!({
        "config": {"chainId": common::e2e::CHAIN_ID, "londonBlock": 0, "cancunTime": 0},
        "nonce": "0x0",
        "timestamp": "0x0",
        "gasLimit": "0x1c9c380",
        "difficulty": "0x0",
        "extraData": "0x",
        "alloc": alloc,
    })
}

fn write(dir: &Path, name: &str, genesis: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(genesis).expect("json")).expect("write");
    path
}

fn devnet() -> DevnetConfig {
    DevnetConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        block_time: Some(BLOCK_TIME),
        ..DevnetConfig::default()
    }
}

fn with_file(e: &E2e, name: &str, file: &Path) -> Config {
    let mut config = e.config(name, None);
    config.genesis.file = Some(file.to_path_buf());
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_follows_a_genesis_file_and_convicts_a_lie() {
    let files = tempfile::tempdir().expect("dir");
    let path = write(files.path(), "genesis.json", &genesis_json());
    let genesis = L2Genesis::load(&path, common::e2e::CHAIN_ID).expect("the file loads");
    let counts = genesis.counts();
    assert_eq!(counts.accounts as u64, DEV_L2_USERS as u64 + 1 + BACKGROUND + CONTRACTS);
    assert_eq!(counts.contracts as u64, 1 + CONTRACTS);
    assert_eq!(counts.slots as u64, CONTRACTS * SLOTS);
    let root = genesis.build().expect("builds").1.state_root;
    let dev_root = L2Genesis::dev(common::e2e::CHAIN_ID, 0, &[]).build().expect("dev").1.state_root;
    assert_ne!(root, dev_root);

    let source = GenesisSource::File(path.clone());
    let mut e = E2e::with_genesis(40, devnet(), &source).await;
    assert_eq!(e.client.batch(0).await.expect("batch 0").lastStateRoot, root);
    let config = with_file(&e, "c", &path);
    let mut daemon = e.start(&config, Some(1)).await;
    e.propose(None).await;
    let fault = Fault::WrongPostRoot { block: 1 };
    let (lie_id, batch) = e.propose(Some(fault)).await;
    let event = daemon.wait_for(WAIT, "a landed challenge", |ev| landed(ev).is_some()).await;
    let intent = landed(&event).expect("landed").clone();
    assert_eq!(intent.batch_id, lie_id);
    assert_eq!(intent.post_state_root, batch.honest[fault.block()].post_state_root);
    daemon
        .saw_or_wait(WAIT, "the invalidation", |ev| {
            matches!(ev, Event::Finding(Finding::Invalidated { batch_id, .. }) if *batch_id == lie_id)
        })
        .await;
    daemon.shutdown().await;
    assert_eq!(e.status(lie_id).await, 3, "the lie is invalidated");
    assert_eq!(e.client.tip().await.expect("tip"), 1, "the honest batch stands");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_refuses_a_genesis_file_with_another_root() {
    let files = tempfile::tempdir().expect("dir");
    let mut json = genesis_json();
    let path = write(files.path(), "genesis.json", &json);
    let source = GenesisSource::File(path.clone());
    let e = E2e::with_genesis(40, devnet(), &source).await;
    let deployed = e.client.batch(0).await.expect("batch 0").lastStateRoot;

    // The same file with one more wei for one dev user.
    let user = dev_users(1)[0].address().to_checksum(None);
    json["alloc"][&user]["balance"] = json!("1000000000000000000001");
    let other = write(files.path(), "other.json", &json);
    let other_root = L2Genesis::load(&other, common::e2e::CHAIN_ID)
        .expect("loads")
        .build()
        .expect("builds")
        .1
        .state_root;
    assert_ne!(other_root, deployed);
    let config = with_file(&e, "c", &other);
    let key = common::e2e::dev_key(1, &e.node).into();
    let err = Daemon::build(&config, Some(key), false).await.err().expect("refused").to_string();
    assert!(err.contains(&deployed.to_string()), "{err}");
    assert!(err.contains(&other_root.to_string()), "{err}");
    assert!(!config.store.path.join("CURRENT").exists(), "no store was created: {err}");

    // The audit's watcher opens the same way.
    let err = open_watcher(&config).await.err().expect("refused").to_string();
    assert!(err.contains(&deployed.to_string()) && err.contains(&other_root.to_string()), "{err}");

    // The dev genesis is no match either; the file that was deployed is.
    let mut dev = e.config("dev", None);
    dev.genesis = Default::default();
    let err = open_watcher(&dev).await.err().expect("refused").to_string();
    assert!(err.contains(&deployed.to_string()), "{err}");
    open_watcher(&with_file(&e, "ok", &path)).await.expect("the deployed file is accepted");
}
