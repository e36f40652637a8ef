//! Tests of network-name parsing and of the resulting fork schedules.

use super::*;

fn schedule(name: &str) -> ForkSchedule {
    match network(name) {
        Network::Supported(schedule) => schedule,
        Network::Skipped { reason } => panic!("{name} skipped: {reason}"),
    }
}

fn skip_reason(name: &str) -> String {
    match network(name) {
        Network::Supported(_) => panic!("{name} unexpectedly supported"),
        Network::Skipped { reason } => reason,
    }
}

#[test]
fn single_fork_networks_map_to_their_spec() {
    let cases = [
        ("Paris", SpecId::MERGE),
        ("Merge", SpecId::MERGE),
        ("Shanghai", SpecId::SHANGHAI),
        ("Cancun", SpecId::CANCUN),
        ("Prague", SpecId::PRAGUE),
        ("Osaka", SpecId::OSAKA),
    ];
    for (name, spec) in cases {
        let s = schedule(name);
        assert_eq!(s.spec_id(0, 0), spec, "{name} at genesis");
        assert_eq!(s.spec_id(1_000_000, u64::MAX), spec, "{name} far in the future");
        assert!(s.is_paris_active_at_block(0) && s.is_london_active_at_block(0));
        assert_eq!(s.name(), name);
    }
}

#[test]
fn timestamp_predicates_per_fork() {
    let s = schedule("Shanghai");
    assert!(s.is_shanghai_active_at_timestamp(0));
    assert!(!s.is_cancun_active_at_timestamp(u64::MAX));
    let c = schedule("Cancun");
    assert!(c.is_shanghai_active_at_timestamp(0) && c.is_cancun_active_at_timestamp(0));
    assert!(!c.is_prague_active_at_timestamp(u64::MAX));
    let p = schedule("Paris");
    assert!(!p.is_shanghai_active_at_timestamp(u64::MAX));
    let o = schedule("Osaka");
    assert!(o.is_prague_active_at_timestamp(0) && o.is_osaka_active_at_timestamp(0));
    assert!(!o.is_amsterdam_active_at_timestamp(u64::MAX));
}

#[test]
fn shanghai_to_cancun_transition_at_15k() {
    let s = schedule("ShanghaiToCancunAtTime15k");
    assert!(s.is_shanghai_active_at_timestamp(0));
    assert!(!s.is_cancun_active_at_timestamp(14_999));
    assert!(s.is_cancun_active_at_timestamp(15_000));
    assert_eq!(s.spec_id(5, 14_999), SpecId::SHANGHAI);
    assert_eq!(s.spec_id(6, 15_000), SpecId::CANCUN);
    assert_eq!(s.blob_params_at(14_999), None);
    assert_eq!(s.blob_params_at(15_000), Some(BlobParams::cancun()));
    assert_eq!(s.fork_at(15_001), PostMergeFork::Cancun);
}

#[test]
fn other_transitions_are_parsed_generically() {
    let s = schedule("ParisToShanghaiAtTime15k");
    assert_eq!((s.spec_id(1, 14_999), s.spec_id(2, 15_000)), (SpecId::MERGE, SpecId::SHANGHAI));
    let s = schedule("CancunToPragueAtTime15k");
    assert!(!s.is_prague_active_at_timestamp(14_999) && s.is_prague_active_at_timestamp(15_000));
    assert_eq!(s.blob_params_at(15_000), Some(BlobParams::prague()));
    let s = schedule("PragueToOsakaTime15k");
    assert_eq!((s.spec_id(1, 14_999), s.spec_id(2, 15_000)), (SpecId::PRAGUE, SpecId::OSAKA));
    assert_eq!(s.blob_params_at(20_000), Some(BlobParams::osaka()));
    // A two-fork jump activates every intermediate fork at the same time.
    let s = schedule("ShanghaiToPragueAtTime7");
    assert!(s.is_cancun_active_at_timestamp(7) && !s.is_cancun_active_at_timestamp(6));
}

#[test]
fn pre_merge_and_unknown_networks_are_skipped() {
    for name in
        ["Frontier", "Homestead", "Byzantium", "ConstantinopleFix", "Istanbul", "Berlin", "London"]
    {
        let reason = skip_reason(name);
        assert_eq!(
            reason,
            format!(
                "pre-merge fork {name}: proof-of-work rules (difficulty, ommers, rewards) are out of scope"
            )
        );
    }
    assert!(skip_reason("BerlinToLondonAt5").starts_with("pre-merge fork BerlinToLondonAt5"));
    assert!(skip_reason("ArrowGlacierToParisAtDiffC0000").starts_with("pre-merge fork"));
    for name in ["Amsterdam", "", "CancunToShanghaiAtTime15k", "CancunToPragueAtTimeX", "cancun"] {
        assert_eq!(skip_reason(name), format!("unknown network {name}"));
    }
}

#[test]
fn dao_fork_is_never_scheduled_and_deposit_contract_is_default() {
    let s = schedule("Cancun");
    assert_eq!(s.ethereum_fork_activation(EthereumHardfork::Dao), ForkCondition::Never);
    assert_eq!(s.deposit_contract_address(), None);
    assert_eq!(s.activations().len(), 3);
}

#[test]
fn every_fixture_network_is_classified() {
    let expected_supported = ["Cancun", "Paris", "Shanghai", "ShanghaiToCancunAtTime15k"];
    let expected_skipped = ["Berlin", "Byzantium", "Constantinople", "Frontier", "London"];
    for name in expected_supported {
        assert!(matches!(network(name), Network::Supported(_)), "{name}");
    }
    for name in expected_skipped {
        assert!(matches!(network(name), Network::Skipped { .. }), "{name}");
    }
}
