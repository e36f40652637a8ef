//! The dev L1 checked by a client nobody here wrote: `tests/js/client-check.mjs` (ethers, from
//! npm) runs the same scenario against the dev L1 and against anvil (npm `@foundry-rs/anvil`)
//! and fails on any difference in receipts, gas, logs or JSON-RPC error codes.
//!
//! Needs `npm install --prefix tests/js` (`.ci/run` does it); without it this test fails rather
//! than skipping.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use native_challenger::devnet::{Devnet, DevnetConfig};
use std::path::Path;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ethers_sees_the_same_node_as_anvil() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    assert!(
        root.join("node_modules").is_dir(),
        "tests/js/node_modules is missing: run `npm install --prefix tests/js` (as .ci/run does)"
    );
    let node = Devnet::spawn(DevnetConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .expect("dev L1 starts");
    let (http, ws) = (node.http_url.clone(), node.ws_url.clone());
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(&root)
            .args(["client-check.mjs", "--compare", "--rpc", &http, "--ws", &ws])
            .output()
    })
    .await
    .expect("join")
    .expect("node runs (Node.js 18+ must be installed)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    node.stop().await;
    assert!(
        output.status.success(),
        "client check failed ({}):\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    assert!(stdout.contains("client-check:") && stdout.contains(" 0 differences"), "{stdout}");
}
