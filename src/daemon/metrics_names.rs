//! Every metric the daemon exports, defined once: its name, kind and help text. The call sites
//! (`metrics::counter!(WATCHER_BATCHES_SEEN)`), the start-up descriptions ([`describe`]), the
//! shipped alert rules and dashboard (`deploy/`, checked by `tests::deploy_uses_known_names`)
//! and docs/operations.md's table all go by these names.
//!
//! Names follow `native_challenger_<stage>_<what>[_unit]`; counters end in `_total`.

/// What kind of series a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// One metric: name, kind, help text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

pub const WATCHER_BATCHES_SEEN: &str = "native_challenger_watcher_batches_seen_total";
pub const WATCHER_BATCHES_VERIFIED: &str = "native_challenger_watcher_batches_verified_total";
pub const WATCHER_BATCHES_INVALID: &str = "native_challenger_watcher_batches_invalid_total";
pub const WATCHER_REPLAY_MGAS_PER_SECOND: &str = "native_challenger_watcher_replay_mgas_per_second";
pub const WATCHER_L1_PROCESSED_BLOCK: &str = "native_challenger_watcher_l1_processed_block";
pub const WATCHER_L1_HEAD_LAG_BLOCKS: &str = "native_challenger_watcher_l1_head_lag_blocks";
pub const WATCHER_REORGS: &str = "native_challenger_watcher_reorgs_total";
pub const WATCHER_WRONG_FINALIZED: &str = "native_challenger_watcher_wrong_finalized_total";
pub const WATCHER_UNVERIFIABLE_BATCHES: &str =
    "native_challenger_watcher_unverifiable_batches_total";
pub const WATCHER_INCOMPLETE_ANSWERS: &str = "native_challenger_watcher_incomplete_answers_total";
pub const DAEMON_UNCHALLENGED_LIES: &str = "native_challenger_daemon_unchallenged_lies_total";
pub const DAEMON_STEP_FAILURES: &str = "native_challenger_daemon_step_failures_total";
pub const DAEMON_RECURRING_FAILURE: &str = "native_challenger_daemon_recurring_failure";
pub const SUBMITTER_CHALLENGES_PLANNED: &str =
    "native_challenger_submitter_challenges_planned_total";
pub const SUBMITTER_CHALLENGES_REFUSED: &str =
    "native_challenger_submitter_challenges_refused_total";
pub const SUBMITTER_CHALLENGES_SUBMITTED: &str =
    "native_challenger_submitter_challenges_submitted_total";
pub const SUBMITTER_STOOD_DOWN: &str = "native_challenger_submitter_stood_down_total";
pub const SUBMITTER_CHALLENGES_WAITING: &str =
    "native_challenger_submitter_challenges_waiting_total";
pub const SUBMITTER_ROUNDS_FAILED: &str = "native_challenger_submitter_rounds_failed_total";
pub const SUBMITTER_REVEAL_REFUSALS: &str = "native_challenger_submitter_reveal_refusals_total";
pub const SUBMITTER_CHALLENGES_LANDED: &str = "native_challenger_submitter_challenges_landed_total";
pub const SUBMITTER_CONVICTIONS_UNDONE: &str =
    "native_challenger_submitter_convictions_undone_total";
pub const SUBMITTER_PROPOSAL_TO_LANDING_SECONDS: &str =
    "native_challenger_submitter_proposal_to_landing_seconds";
pub const SUBMITTER_FEE_BUMPS: &str = "native_challenger_submitter_fee_bumps_total";
pub const SUBMITTER_BOND_WEI: &str = "native_challenger_submitter_bond_wei";
pub const SUBMITTER_BALANCE_WEI: &str = "native_challenger_submitter_balance_wei";

const fn counter(name: &'static str, help: &'static str) -> Metric {
    Metric { name, kind: Kind::Counter, help }
}

const fn gauge(name: &'static str, help: &'static str) -> Metric {
    Metric { name, kind: Kind::Gauge, help }
}

/// Every metric, in the order of docs/operations.md's table.
pub const ALL: &[Metric] = &[
    counter(WATCHER_BATCHES_SEEN, "Batches proposed on L1 that the watcher has read"),
    counter(WATCHER_BATCHES_VERIFIED, "Batches whose every checkpoint matched the local replay"),
    counter(WATCHER_BATCHES_INVALID, "Batches with a wrong checkpoint (a lie found)"),
    gauge(WATCHER_REPLAY_MGAS_PER_SECOND, "L2 replay speed of the last batch, in Mgas/s"),
    gauge(WATCHER_L1_PROCESSED_BLOCK, "Last L1 block the watcher processed"),
    gauge(WATCHER_L1_HEAD_LAG_BLOCKS, "L1 head minus the last processed block"),
    counter(WATCHER_REORGS, "L1 reorgs the watcher rewound"),
    counter(WATCHER_WRONG_FINALIZED, "Batches that finalized without being found valid (alarm)"),
    counter(
        WATCHER_UNVERIFIABLE_BATCHES,
        "Batches recorded as skipped because they cannot be checked (alarm)",
    ),
    counter(
        WATCHER_INCOMPLETE_ANSWERS,
        "L1 answers found incomplete; the range was read again from the next endpoint (alarm)",
    ),
    counter(DAEMON_UNCHALLENGED_LIES, "Lies found in watch-only mode (alarm)"),
    counter(
        DAEMON_STEP_FAILURES,
        "Failed watcher steps, by severity (retry, rewind, fatal) and kind",
    ),
    gauge(
        DAEMON_RECURRING_FAILURE,
        "1 while a watcher failure recurs ([metrics] failure_alarm_after in a row), else 0 (alarm)",
    ),
    counter(SUBMITTER_CHALLENGES_PLANNED, "Lies handed to the submitter for a new challenge"),
    counter(
        SUBMITTER_CHALLENGES_REFUSED,
        "Challenges refused by the self-check, the budget, a closed window or L1 (alarm)",
    ),
    counter(SUBMITTER_CHALLENGES_SUBMITTED, "Challenge transactions sent (commit and reveal)"),
    counter(
        SUBMITTER_STOOD_DOWN,
        "Challenges abandoned: the batch was convicted by someone else or its proposal left L1",
    ),
    counter(
        SUBMITTER_CHALLENGES_WAITING,
        "Times a challenge was held back (negative expected value or a failed read)",
    ),
    counter(SUBMITTER_ROUNDS_FAILED, "Commit or reveal rounds that failed on chain"),
    counter(
        SUBMITTER_CONVICTIONS_UNDONE,
        "Challenges reopened because an L1 reorg undid the conviction",
    ),
    counter(
        SUBMITTER_REVEAL_REFUSALS,
        "Reveals of a self-checked proof that L1 refused in simulation (alarm)",
    ),
    counter(SUBMITTER_CHALLENGES_LANDED, "Challenges that convicted a batch"),
    gauge(
        SUBMITTER_PROPOSAL_TO_LANDING_SECONDS,
        "L1 time from the wrong proposal to the landed challenge, in seconds",
    ),
    counter(SUBMITTER_FEE_BUMPS, "Fee bumps of stuck transactions"),
    gauge(SUBMITTER_BOND_WEI, "Challenger bond deposited in the rollup contract, in wei"),
    gauge(SUBMITTER_BALANCE_WEI, "The challenger account's balance, in wei"),
];

/// The metric called `name`, if it is one of ours.
pub fn find(name: &str) -> Option<&'static Metric> {
    ALL.iter().find(|m| m.name == name)
}

/// Describes every metric to the installed recorder (help texts in `/metrics`).
pub fn describe() {
    for metric in ALL {
        match metric.kind {
            Kind::Counter => metrics::describe_counter!(metric.name, metric.help),
            Kind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
        }
    }
}

/// The `native_challenger_…` names in `text` (a word of lower-case letters, digits and
/// underscores after the prefix), for the checks of files that name metrics.
pub fn names_in(text: &str) -> Vec<&str> {
    const PREFIX: &str = "native_challenger_";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        let boundary = text.len() - rest.len() + at;
        let before = text[..boundary].chars().next_back();
        let tail = &rest[at..];
        let len = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            out.push(&tail[..len]);
        }
        rest = &tail[len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn read(path: &str) -> String {
        let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {path}: {e}"))
    }

    #[test]
    fn names_are_unique_and_well_formed() {
        for (i, metric) in ALL.iter().enumerate() {
            assert!(metric.name.starts_with("native_challenger_"), "{}", metric.name);
            assert_eq!(names_in(metric.name), vec![metric.name], "{}", metric.name);
            let total = metric.name.ends_with("_total");
            assert_eq!(
                total,
                metric.kind == Kind::Counter,
                "{}: counters end in _total",
                metric.name
            );
            assert!(!metric.help.is_empty());
            assert!(ALL[..i].iter().all(|m| m.name != metric.name), "{} twice", metric.name);
        }
    }

    #[test]
    fn names_in_finds_whole_names() {
        let text = "a native_challenger_x_total > 0 or rate(native_challenger_y[5m]) \
                    my_native_challenger_z";
        assert_eq!(names_in(text), vec!["native_challenger_x_total", "native_challenger_y"]);
    }

    /// Every metric name the alert rules and the dashboard use is defined here.
    #[test]
    fn deploy_uses_known_names() {
        for path in [
            "deploy/prometheus/alerts.yml",
            "deploy/prometheus/alerts_test.yml",
            "deploy/grafana/native-challenger.json",
        ] {
            let text = read(path);
            let used = names_in(&text);
            assert!(!used.is_empty(), "{path} names no metric");
            for name in used {
                assert!(
                    find(name).is_some(),
                    "{path} uses {name}, which src/daemon/metrics_names.rs does not define"
                );
            }
        }
    }

    /// The dashboard is valid JSON and every panel queries at least one of our metrics.
    #[test]
    fn dashboard_panels_query_known_metrics() {
        let text = read("deploy/grafana/native-challenger.json");
        let dashboard: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
        let panels = dashboard["panels"].as_array().expect("panels");
        let mut queried = 0;
        for panel in panels {
            if panel["type"] == "row" {
                continue;
            }
            let title = panel["title"].as_str().unwrap_or("?");
            let targets = panel["targets"].as_array().unwrap_or_else(|| panic!("{title}: targets"));
            assert!(!targets.is_empty(), "panel {title} has no query");
            for target in targets {
                let expr = target["expr"].as_str().unwrap_or_else(|| panic!("{title}: expr"));
                let names = names_in(expr);
                assert!(!names.is_empty(), "panel {title} queries no native_challenger metric");
                for name in names {
                    assert!(find(name).is_some(), "panel {title} uses undefined {name}");
                }
            }
            queried += 1;
        }
        assert!(queried >= 8, "only {queried} panels");
    }

    /// docs/operations.md's alert rules are deploy/prometheus/alerts.yml, and its metrics
    /// table lists every metric.
    #[test]
    fn docs_match_the_names_and_the_rules() {
        let docs = read("docs/operations.md");
        for metric in ALL {
            let row = format!("| `{}` |", metric.name);
            assert!(
                docs.contains(&row),
                "docs/operations.md's metrics table lacks {}",
                metric.name
            );
        }
        for name in names_in(&docs) {
            assert!(find(name).is_some(), "docs/operations.md names undefined {name}");
        }
        let rules = read("deploy/prometheus/alerts.yml");
        let start = docs.find("```yaml\ngroups:").expect("the rules in docs/operations.md");
        let inlined = &docs[start + "```yaml\n".len()..];
        let inlined = &inlined[..inlined.find("```").expect("end of the rules")];
        let body = |text: &str| -> String {
            text.lines()
                .skip_while(|l| !l.starts_with("groups:"))
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_string()
        };
        assert_eq!(body(inlined), body(&rules), "docs/operations.md and alerts.yml differ");
    }

    /// Every `native_challenger_…` string literal in src/ is defined here (call sites should
    /// use the constants; a literal that is not defined would be an undocumented series).
    #[test]
    fn source_literals_are_defined() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") || path.ends_with("metrics_names.rs")
                {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("source");
                for literal in text.split("\"native_challenger_").skip(1) {
                    let name =
                        format!("native_challenger_{}", literal.split('"').next().unwrap_or(""));
                    if name.contains("::") || name.contains(' ') {
                        continue; // a tracing target or a message, not a metric
                    }
                    assert!(
                        find(&name).is_some(),
                        "{} uses undefined metric {name}",
                        path.display()
                    );
                }
            }
        }
    }
}
