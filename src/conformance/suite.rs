//! The conformance command: every test of every file, in parallel, with a summary.
//!
//! Output: one line per failing test (`FAIL <file> <test> [mode]: reason`), the skipped tests
//! grouped by reason, and the closing line `conformance: N passed, N failed, N skipped`.

use super::fixture::{discover, load_file};
use super::runner::{Outcome, run_test};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One test's result.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub file: String,
    pub test: String,
    pub network: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SuiteReport {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub tests: Vec<TestReport>,
}

impl SuiteReport {
    fn push(&mut self, report: TestReport) {
        match report.outcome {
            Outcome::Passed { .. } => self.passed += 1,
            Outcome::Failed { .. } => self.failed += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
        }
        self.tests.push(report);
    }

    /// Skip reasons with their counts.
    pub fn skip_reasons(&self) -> BTreeMap<String, usize> {
        let mut reasons = BTreeMap::new();
        for test in &self.tests {
            if let Outcome::Skipped { reason } = &test.outcome {
                *reasons.entry(reason.clone()).or_insert(0) += 1;
            }
        }
        reasons
    }

    pub fn summary_line(&self) -> String {
        format!(
            "conformance: {} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// Runs every test found under `paths` on `jobs` threads, keeping scratch stores in `scratch`.
pub fn run_suite(
    paths: &[PathBuf],
    jobs: usize,
    scratch: &Path,
) -> Result<SuiteReport, super::fixture::FixtureError> {
    let files = discover(paths)?;
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for worker in 0..jobs.max(1) {
            let (next, results, files) = (&next, &results, &files);
            scope.spawn(move || {
                let dir = scratch.join(format!("worker-{worker}"));
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(index) else { break };
                    let reports = run_file(file, &dir);
                    if let Ok(mut all) = results.lock() {
                        all.push((index, reports));
                    }
                }
            });
        }
    });
    let mut by_file = results.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    by_file.sort_by_key(|(index, _)| *index);
    let mut report = SuiteReport::default();
    by_file.into_iter().flat_map(|(_, reports)| reports).for_each(|r| report.push(r));
    Ok(report)
}

fn run_file(file: &Path, scratch: &Path) -> Vec<TestReport> {
    let name = file.display().to_string();
    let tests = match load_file(file) {
        Ok(tests) => tests.tests,
        Err(err) => {
            let outcome = Outcome::Failed {
                mode: super::runner::Mode::Setup,
                reason: format!("fixture: {err}"),
            };
            return vec![TestReport {
                file: name,
                test: String::new(),
                network: String::new(),
                outcome,
            }];
        }
    };
    tests
        .iter()
        .enumerate()
        .map(|(i, (test_name, test))| {
            let dir = scratch.join(format!("t{i}"));
            let _ = std::fs::remove_dir_all(&dir);
            let outcome = run_test(test, &dir);
            TestReport {
                file: name.clone(),
                test: test_name.clone(),
                network: test.network.clone(),
                outcome,
            }
        })
        .collect()
}
