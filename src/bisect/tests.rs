use super::*;

fn shape(charge: u64, trace: usize, calldata: usize, zeros: usize) -> ChallengeShape {
    ChallengeShape {
        execute_charge: charge,
        trace_bytes: trace,
        calldata_bytes: calldata,
        calldata_zero_bytes: zeros,
        descendants: 0,
    }
}

#[test]
fn calldata_is_priced_by_eip_7623_tokens() {
    // 1,000 non-zero and 500 zero bytes: 4,500 tokens.
    let e = estimate_gas(&shape(0, 0, 1_500, 500));
    assert_eq!(e.intrinsic, 21_000 + 4 * 4_500);
    assert_eq!(e.floor, 21_000 + 10 * 4_500);
    // With no EXECUTE charge the floor exceeds intrinsic + the contract's base work.
    assert_eq!(e.total, (e.intrinsic + e.contract).max(e.floor));
}

#[test]
fn the_floor_does_not_apply_when_execution_dominates() {
    let e = estimate_gas(&shape(4_000_000, 100, 400, 100));
    assert_eq!(e.total, e.intrinsic + e.execute_charge + e.contract);
    assert!(e.total > e.floor);
}

#[test]
fn a_block_whose_charge_exceeds_the_execute_budget_is_an_alarm() {
    let budgets = Budgets::default();
    let charge = budgets.execute_block_gas + 1;
    match plan_chunk(3, &shape(charge, 10, 400, 0), &budgets) {
        Err(NoFit::ExecuteBudget { index: 3, charge: c, budget }) => {
            assert_eq!(c, charge);
            assert_eq!(budget, budgets.execute_block_gas);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_challenge_over_the_tx_gas_cap_is_an_alarm() {
    let budgets = Budgets::default();
    match plan_chunk(0, &shape(TX_GAS_CAP - 1_000, 1_000, 1_400, 0), &budgets) {
        Err(NoFit::TxGas { gas, cap, .. }) => assert!(gas > cap && cap == TX_GAS_CAP),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_challenge_over_the_size_limit_is_an_alarm_even_when_gas_fits() {
    let budgets = Budgets { tx_gas_cap: u64::MAX, ..Budgets::default() };
    let calldata = DEFAULT_MAX_TX_SIZE;
    match plan_chunk(1, &shape(1_000_000, calldata - 300, calldata, calldata / 2), &budgets) {
        Err(NoFit::TxSize { bytes, limit, .. }) => {
            assert_eq!(bytes, calldata + TX_ENVELOPE_BYTES);
            assert_eq!(limit, DEFAULT_MAX_TX_SIZE);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_typical_block_fits_as_a_one_block_chunk() {
    let plan =
        plan_chunk(2, &shape(2_200_000, 20_000, 20_500, 2_000), &Budgets::default()).expect("fits");
    assert_eq!((plan.start, plan.blocks), (2, 1));
    assert!(plan.estimate.total < TX_GAS_CAP);
    assert_eq!(plan.tx_bytes, 20_500 + TX_ENVELOPE_BYTES);
}

#[test]
fn descendants_make_the_conviction_dearer() {
    let base = shape(1_000_000, 1_000, 1_400, 0);
    let more = ChallengeShape { descendants: 3, ..base };
    assert_eq!(
        estimate_gas(&more).total - estimate_gas(&base).total,
        3 * CONTRACT_GAS_PER_DESCENDANT
    );
}
