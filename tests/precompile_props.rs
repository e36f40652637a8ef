//! Property tests of the EXECUTE precompile's input handling: whatever the call data, the
//! precompile never panics, never answers "valid", and charges at least the base gas.
//! (A cargo-fuzz target needs a nightly toolchain, which this project's machines lack.)
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use native_challenger::execute_local::forks::{Network, network};
use native_challenger::precompile::{
    Answer, DEFAULT_EXECUTE_ADDRESS, ExecuteConfig, ExecuteMeter, ExecutePrecompile,
};
use native_challenger::protocol::EXECUTE_BASE_GAS;
use proptest::prelude::*;

fn precompile() -> ExecutePrecompile {
    let Network::Supported(schedule) = network("Osaka") else { panic!("Osaka is supported") };
    let config = ExecuteConfig {
        address: DEFAULT_EXECUTE_ADDRESS,
        l2_schedule: schedule,
        block_gas_limit: u64::MAX,
    };
    ExecutePrecompile::new(config, ExecuteMeter::unlimited())
}

/// An ABI head that passes the first checks: two roots, offset 0x80, gas_used, a length word.
fn abi_head(len: u64) -> Vec<u8> {
    let mut out = vec![0u8; 0xa0];
    out[0x5f] = 0x80;
    out[0x98..0xa0].copy_from_slice(&len.to_be_bytes());
    out
}

fn never_valid(answer: &Answer) {
    match answer {
        Answer::Verdict { valid, gas } => {
            assert!(!valid, "garbage proved a transition");
            assert!(*gas >= EXECUTE_BASE_GAS);
        }
        Answer::Failed { gas, reason } => {
            assert!(*gas >= EXECUTE_BASE_GAS);
            assert!(reason.starts_with("EXECUTE: "), "{reason}");
        }
        Answer::OutOfGas { needed } => assert!(*needed >= EXECUTE_BASE_GAS),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_prove_anything(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        never_valid(&precompile().answer(&data, u64::MAX));
    }

    #[test]
    fn abi_framed_garbage_never_proves_anything(
        body in proptest::collection::vec(any::<u8>(), 0..1024),
        version in prop_oneof![Just(1u8), any::<u8>()],
    ) {
        let mut trace = vec![version];
        trace.extend_from_slice(&body);
        let mut data = abi_head(trace.len() as u64);
        let padded = trace.len().div_ceil(32) * 32;
        trace.resize(padded, 0);
        data.extend_from_slice(&trace);
        never_valid(&precompile().answer(&data, u64::MAX));
    }

    #[test]
    fn too_little_gas_is_out_of_gas(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let answer = precompile().answer(&data, EXECUTE_BASE_GAS - 1);
        prop_assert!(matches!(answer, Answer::OutOfGas { .. }), "{answer:?}");
    }
}
