//! The Prometheus endpoint and the description of every metric the daemon exports.

use metrics_exporter_prometheus::PrometheusBuilder;
use std::net::SocketAddr;

/// Every metric: name, kind, help. Names follow `native_challenger_<stage>_<what>[_unit]`.
pub const METRICS: &[(&str, &str, &str)] = &[
    (
        "native_challenger_watcher_batches_seen_total",
        "counter",
        "Batches proposed on L1 that the watcher has read",
    ),
    (
        "native_challenger_watcher_batches_verified_total",
        "counter",
        "Batches whose every checkpoint matched the local replay",
    ),
    (
        "native_challenger_watcher_batches_invalid_total",
        "counter",
        "Batches with a wrong checkpoint",
    ),
    (
        "native_challenger_watcher_replay_mgas_per_second",
        "gauge",
        "L2 replay speed of the last batch",
    ),
    (
        "native_challenger_watcher_l1_processed_block",
        "gauge",
        "Last L1 block the watcher processed",
    ),
    (
        "native_challenger_watcher_l1_head_lag_blocks",
        "gauge",
        "L1 head minus the last processed block",
    ),
    ("native_challenger_watcher_reorgs_total", "counter", "L1 reorgs the watcher rewound"),
    (
        "native_challenger_watcher_wrong_finalized_total",
        "counter",
        "Batches that finalized without being found valid (alarm)",
    ),
    (
        "native_challenger_daemon_unchallenged_lies_total",
        "counter",
        "Lies found in watch-only mode (alarm)",
    ),
    ("native_challenger_submitter_challenges_planned_total", "counter", "Challenges planned"),
    (
        "native_challenger_submitter_challenges_refused_total",
        "counter",
        "Challenges refused by self-check, budget or expected value (alarm)",
    ),
    (
        "native_challenger_submitter_challenges_submitted_total",
        "counter",
        "Challenge transactions sent (commit and reveal)",
    ),
    (
        "native_challenger_submitter_challenges_landed_total",
        "counter",
        "Challenges that convicted a batch",
    ),
    (
        "native_challenger_submitter_stood_down_total",
        "counter",
        "Challenges abandoned: the batch was convicted by someone else or its window closed",
    ),
    (
        "native_challenger_submitter_proposal_to_landing_seconds",
        "gauge",
        "L1 time from the wrong proposal to the landed challenge",
    ),
    ("native_challenger_submitter_fee_bumps_total", "counter", "Fee bumps of stuck transactions"),
    (
        "native_challenger_submitter_bond_wei",
        "gauge",
        "Challenger bond deposited in the rollup contract",
    ),
    ("native_challenger_submitter_balance_wei", "gauge", "The challenger account's balance"),
];

/// Installs the global recorder and serves `/metrics` on `listen`.
pub fn install(listen: SocketAddr) -> Result<(), String> {
    PrometheusBuilder::new()
        .with_http_listener(listen)
        .install()
        .map_err(|e| format!("starting the metrics endpoint on {listen}: {e}"))?;
    for (name, kind, help) in METRICS {
        match *kind {
            "counter" => metrics::describe_counter!(*name, *help),
            _ => metrics::describe_gauge!(*name, *help),
        }
    }
    Ok(())
}
