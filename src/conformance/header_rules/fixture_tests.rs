//! The header and body rules replayed over the official BlockchainTests fixtures.
//!
//! Every block of every supported test is decoded from its `rlp`; its parent is looked up by
//! `parent_hash` among the genesis and the blocks accepted so far (fork-stress tests branch).
//! Valid blocks must pass both rule sets; blocks whose `expectException` names a header- or
//! body-level fault must fail one of them (an unknown parent counts as a rejection).

use super::super::fixture::{BlockchainTest, discover, load_file};
use super::super::forks::{Network, network};
use super::*;
use alloy_consensus::{Block, TxEnvelope};
use alloy_rlp::Decodable;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Exceptions that a header/body check must detect before execution.
const PRE_EXECUTION_FAULTS: [&str; 19] = [
    "BlockException.INCORRECT_EXCESS_BLOB_GAS",
    "BlockException.INCORRECT_BLOCK_FORMAT",
    "BlockException.INVALID_WITHDRAWALS_ROOT",
    "BlockException.INVALID_BASEFEE_PER_GAS",
    "BlockException.INVALID_GASLIMIT",
    "BlockException.IMPORT_IMPOSSIBLE_UNCLES_OVER_PARIS",
    "BlockException.INVALID_BLOCK_TIMESTAMP_OLDER_THAN_PARENT",
    "BlockException.EXTRA_DATA_TOO_BIG",
    "BlockException.GASLIMIT_TOO_BIG",
    "BlockException.INVALID_BLOCK_NUMBER",
    "BlockException.IMPORT_IMPOSSIBLE_DIFFICULTY_OVER_PARIS",
    "BlockException.UNKNOWN_PARENT",
    "BlockException.UNKNOWN_PARENT_ZERO",
    "BlockException.INVALID_TRANSACTIONS_ROOT",
    "TransactionException.TYPE_3_TX_PRE_FORK",
    "BlockException.GAS_USED_OVERFLOW",
    "TransactionException.TYPE_3_TX_MAX_BLOB_GAS_ALLOWANCE_EXCEEDED",
    "TransactionException.TYPE_3_TX_BLOB_COUNT_EXCEEDED",
    "TransactionException.TYPE_3_TX_WITH_FULL_BLOBS",
];

#[derive(Default, Debug)]
struct Survey {
    files: usize,
    load_errors: Vec<String>,
    skipped_tests: usize,
    valid_checked: usize,
    valid_failures: Vec<String>,
    /// exception -> (caught, missed) for rlp-decodable invalid blocks.
    invalid: BTreeMap<String, (usize, usize)>,
    invalid_missed: Vec<String>,
}

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/ethereum-tests/BlockchainTests")
}

fn survey() -> &'static Survey {
    static SURVEY: OnceLock<Survey> = OnceLock::new();
    SURVEY.get_or_init(|| {
        let mut survey = Survey::default();
        let files = discover(&[fixtures_root()]).unwrap_or_default();
        for file in &files {
            survey.files += 1;
            match load_file(file) {
                Ok(loaded) => {
                    loaded.tests.iter().for_each(|(name, t)| replay(&mut survey, name, t))
                }
                Err(e) => survey.load_errors.push(e.to_string()),
            }
        }
        survey
    })
}

fn is_pre_execution(exception: &str) -> bool {
    exception.split('|').any(|part| PRE_EXECUTION_FAULTS.contains(&part))
}

/// Applies both rule sets to one block given the accepted blocks so far.
fn judge(
    block: &Block<TxEnvelope>,
    known: &HashMap<B256, Header>,
    s: &ForkSchedule,
) -> Result<(), String> {
    let parent = known.get(&block.header.parent_hash).ok_or("unknown parent")?;
    validate_header_against_parent(&block.header, parent, s).map_err(|e| e.to_string())?;
    validate_body(block, s).map_err(|e| e.to_string())
}

fn replay(survey: &mut Survey, name: &str, test: &BlockchainTest) {
    let Network::Supported(schedule) = network(&test.network) else {
        survey.skipped_tests += 1;
        return;
    };
    let mut known = HashMap::from([(test.genesis_header.hash_slow(), test.genesis_header.clone())]);
    for (i, fixture_block) in test.blocks.iter().enumerate() {
        let decoded = Block::<TxEnvelope>::decode(&mut &fixture_block.rlp[..]);
        match (&fixture_block.expect_exception, decoded) {
            (None, Err(e)) => survey.valid_failures.push(format!("{name} block {i}: rlp: {e}")),
            (None, Ok(block)) => {
                survey.valid_checked += 1;
                if let Err(e) = judge(&block, &known, &schedule) {
                    survey.valid_failures.push(format!("{name} block {i}: {e}"));
                }
                known.insert(block.header.hash_slow(), block.header);
            }
            (Some(_), Err(_)) => {}
            (Some(exception), Ok(block)) => {
                let caught = judge(&block, &known, &schedule).is_err();
                let entry = survey.invalid.entry(exception.clone()).or_default();
                if caught {
                    entry.0 += 1
                } else {
                    entry.1 += 1
                }
                if !caught && is_pre_execution(exception) {
                    survey.invalid_missed.push(format!("{name} block {i}: {exception}"));
                }
            }
        }
    }
}

#[test]
fn valid_fixture_blocks_pass_header_and_body_rules() {
    let s = survey();
    println!(
        "{} files, {} tests skipped, {} valid blocks checked",
        s.files, s.skipped_tests, s.valid_checked
    );
    assert!(s.load_errors.is_empty(), "load errors: {:?}", s.load_errors.first());
    assert!(s.valid_checked > 1000, "too few valid blocks: {}", s.valid_checked);
    let first = s.valid_failures.iter().take(5).collect::<Vec<_>>();
    assert!(
        s.valid_failures.is_empty(),
        "{} valid blocks rejected: {first:#?}",
        s.valid_failures.len()
    );
}

#[test]
fn invalid_fixture_blocks_with_pre_execution_faults_are_rejected() {
    let s = survey();
    for (exception, (caught, missed)) in &s.invalid {
        println!("{caught:>4} caught {missed:>4} passed  {exception}");
    }
    let caught: usize =
        s.invalid.iter().filter(|(e, _)| is_pre_execution(e)).map(|(_, c)| c.0).sum();
    assert!(caught > 100, "too few header-level invalid blocks seen: {caught}");
    let first = s.invalid_missed.iter().take(5).collect::<Vec<_>>();
    assert!(
        s.invalid_missed.is_empty(),
        "{} invalid blocks accepted: {first:#?}",
        s.invalid_missed.len()
    );
}
