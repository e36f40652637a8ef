//! Unit tests: a valid parent/child pair, then one mutation per rule.

use super::super::forks::{Network, network};
use super::*;
use alloy_eips::eip1559::calc_next_block_base_fee;
use alloy_primitives::Bytes;

fn schedule(name: &str) -> ForkSchedule {
    match network(name) {
        Network::Supported(s) => s,
        Network::Skipped { reason } => panic!("{reason}"),
    }
}

fn cancun_parent() -> Header {
    Header {
        number: 7,
        timestamp: 1_000,
        gas_limit: 30_000_000,
        gas_used: 20_000_000,
        base_fee_per_gas: Some(1_000_000_000),
        withdrawals_root: Some(B256::repeat_byte(1)),
        blob_gas_used: Some(2 * DATA_GAS_PER_BLOB),
        excess_blob_gas: Some(4 * DATA_GAS_PER_BLOB),
        parent_beacon_block_root: Some(B256::repeat_byte(2)),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        ..Header::default()
    }
}

/// A child of `parent` that satisfies every rule under Cancun.
fn cancun_child(parent: &Header) -> Header {
    Header {
        parent_hash: parent.hash_slow(),
        number: parent.number + 1,
        timestamp: parent.timestamp + 12,
        gas_limit: parent.gas_limit + parent.gas_limit / 1024 - 1,
        gas_used: 1_000,
        base_fee_per_gas: Some(1_041_666_666),
        excess_blob_gas: Some(3 * DATA_GAS_PER_BLOB),
        blob_gas_used: Some(DATA_GAS_PER_BLOB),
        extra_data: Bytes::from(vec![0xab; 32]),
        ..parent.clone()
    }
}

fn check(mutate: impl FnOnce(&mut Header)) -> Result<(), HeaderError> {
    let parent = cancun_parent();
    let mut child = cancun_child(&parent);
    mutate(&mut child);
    validate_header_against_parent(&child, &parent, &schedule("Cancun"))
}

#[test]
fn valid_pair_passes() {
    assert_eq!(check(|_| {}), Ok(()));
    assert_eq!(check(|h| h.gas_limit = 30_000_000 - 30_000_000 / 1024 + 1), Ok(()));
}

#[test]
fn lineage_mutations() {
    assert_eq!(check(|h| h.number = 9), Err(HeaderError::Number { got: 9, expected: 8 }));
    let expected = cancun_parent().hash_slow();
    let got = B256::ZERO;
    assert_eq!(check(|h| h.parent_hash = got), Err(HeaderError::ParentHash { got, expected }));
    assert_eq!(
        check(|h| h.timestamp = 1_000),
        Err(HeaderError::Timestamp { got: 1_000, parent: 1_000 })
    );
    assert_eq!(
        check(|h| h.timestamp = 999),
        Err(HeaderError::Timestamp { got: 999, parent: 1_000 })
    );
}

#[test]
fn gas_mutations() {
    let (parent, max_delta) = (30_000_000, 30_000_000 / 1024 - 1);
    let got = parent + max_delta + 1;
    assert_eq!(
        check(|h| h.gas_limit = got),
        Err(HeaderError::GasLimitChange { got, parent, max_delta })
    );
    let got = parent - max_delta - 1;
    assert_eq!(
        check(|h| h.gas_limit = got),
        Err(HeaderError::GasLimitChange { got, parent, max_delta })
    );
    let got = u64::MAX;
    assert_eq!(
        check(|h| h.gas_limit = got),
        Err(HeaderError::GasLimitTooHigh { got, maximum: MAX_GAS_LIMIT })
    );
    let got = cancun_child(&cancun_parent()).gas_limit + 1;
    let err = check(|h| h.gas_used = got);
    assert_eq!(err, Err(HeaderError::GasUsedExceedsLimit { got, limit: got - 1 }));
}

#[test]
fn gas_limit_floor() {
    let mut parent = cancun_parent();
    parent.gas_limit = 5_000;
    parent.gas_used = 2_500;
    let mut child = cancun_child(&parent);
    child.gas_limit = 4_999;
    child.gas_used = 0;
    child.base_fee_per_gas = Some(next_base_fee(2_500, 5_000, 1_000_000_000));
    let result = validate_header_against_parent(&child, &parent, &schedule("Cancun"));
    assert_eq!(result, Err(HeaderError::GasLimitTooLow { got: 4_999, minimum: MIN_GAS_LIMIT }));
}

#[test]
fn merge_constant_mutations() {
    let err = check(|h| h.extra_data = Bytes::from(vec![0; 33]));
    assert_eq!(err, Err(HeaderError::ExtraDataTooLong { got: 33, maximum: 32 }));
    let got = U256::from(1);
    assert_eq!(check(|h| h.difficulty = got), Err(HeaderError::Difficulty { got }));
    let got = B64::repeat_byte(1);
    assert_eq!(check(|h| h.nonce = got), Err(HeaderError::Nonce { got }));
    let got = B256::ZERO;
    let err = check(|h| h.ommers_hash = got);
    assert_eq!(err, Err(HeaderError::OmmersHash { got, expected: EMPTY_OMMER_ROOT_HASH }));
}

#[test]
fn base_fee_mutations() {
    let err = check(|h| h.base_fee_per_gas = Some(1));
    assert_eq!(err, Err(HeaderError::BaseFee { got: 1, expected: 1_041_666_666 }));
    let err = check(|h| h.base_fee_per_gas = None);
    assert!(matches!(err, Err(HeaderError::MissingField { field: "base_fee_per_gas", .. })));
}

#[test]
fn fork_field_presence() {
    let fork = PostMergeFork::Cancun;
    let err = check(|h| h.withdrawals_root = None);
    assert_eq!(err, Err(HeaderError::MissingField { field: "withdrawals_root", fork }));
    let err = check(|h| h.parent_beacon_block_root = None);
    assert_eq!(err, Err(HeaderError::MissingField { field: "parent_beacon_block_root", fork }));
    let err = check(|h| h.requests_hash = Some(B256::ZERO));
    assert_eq!(err, Err(HeaderError::UnexpectedField { field: "requests_hash", fork }));
    let err = check(|h| h.slot_number = Some(1));
    assert_eq!(err, Err(HeaderError::UnexpectedField { field: "slot_number", fork }));
    let err = check(|h| h.excess_blob_gas = None);
    assert_eq!(err, Err(HeaderError::MissingField { field: "excess_blob_gas", fork }));
}

#[test]
fn blob_gas_mutations() {
    let err = check(|h| h.excess_blob_gas = Some(0));
    assert_eq!(err, Err(HeaderError::ExcessBlobGas { got: 0, expected: 3 * DATA_GAS_PER_BLOB }));
    let err = check(|h| h.blob_gas_used = Some(1));
    assert_eq!(
        err,
        Err(HeaderError::BlobGasUsedNotMultiple { got: 1, per_blob: DATA_GAS_PER_BLOB })
    );
    let got = 7 * DATA_GAS_PER_BLOB;
    let err = check(|h| h.blob_gas_used = Some(got));
    assert_eq!(err, Err(HeaderError::BlobGasUsedTooHigh { got, maximum: 6 * DATA_GAS_PER_BLOB }));
}

#[test]
fn transition_block_follows_the_new_fork() {
    let sched = schedule("ShanghaiToCancunAtTime15k");
    let mut parent = cancun_parent();
    (
        parent.timestamp,
        parent.blob_gas_used,
        parent.excess_blob_gas,
        parent.parent_beacon_block_root,
    ) = (14_990, None, None, None);
    let mut child = cancun_child(&parent);
    (child.timestamp, child.excess_blob_gas) = (15_000, Some(0));
    child.parent_beacon_block_root = Some(B256::ZERO);
    assert_eq!(validate_header_against_parent(&child, &parent, &sched), Ok(()));
    let mut pre = child.clone();
    pre.timestamp = 14_999;
    let err = validate_header_against_parent(&pre, &parent, &sched);
    let fork = PostMergeFork::Shanghai;
    assert_eq!(err, Err(HeaderError::UnexpectedField { field: "blob_gas_used", fork }));
}

#[test]
fn fee_formulas_match_alloy_on_sane_inputs() {
    let params = BaseFeeParams::ethereum();
    for (used, limit, fee) in [
        (0, 30_000_000, 7),
        (15_000_000, 30_000_000, 9),
        (29_999_999, 30_000_000, 1_000),
        (1, 1, 5),
        (10, 16, 8),
    ] {
        assert_eq!(
            next_base_fee(used, limit, fee),
            calc_next_block_base_fee(used, limit, fee, params)
        );
    }
    assert_eq!(next_base_fee(u64::MAX, u64::MAX / 2, u64::MAX), u64::MAX);
    for blob in [BlobParams::cancun(), BlobParams::prague(), BlobParams::osaka()] {
        for (excess, used, fee) in
            [(0, 0, 7), (1 << 20, 6 << 17, 7), (1 << 25, 0, 1 << 40), (3 << 17, 9 << 17, 1)]
        {
            let parent = Header {
                excess_blob_gas: Some(excess),
                blob_gas_used: Some(used),
                base_fee_per_gas: Some(fee),
                ..Header::default()
            };
            let alloy = blob.next_block_excess_blob_gas_osaka(excess, used, fee);
            assert_eq!(next_excess_blob_gas(&parent, &blob), alloy);
        }
    }
}
