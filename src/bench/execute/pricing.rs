//! `native-challenger bench`, pricing section: whether EXECUTE's charge covers the CPU a trace
//! costs, for the traces a proposer would build to buy verification work cheaply.
//!
//! Input: [`PricingSizes`]. Output: [`Pricing`], rendered by [`section`]:
//! - per trace, a [`PricedTrace`]: EXECUTE's charge (`ExecuteCall::gas_cost`), the time of
//!   `ExecutePrecompile::answer` given exactly that charge (fastest of `reps`), and nanoseconds
//!   per charged gas. The traces are the worst cases of each part of the price: as many
//!   transactions as `propose` lets a block frame, each costing a full sender recovery, in a
//!   block of gas limit 1; invalid signatures and undecodable bytes; node-heavy, code-heavy
//!   and header-heavy blocks cut by the witness budget; an ECRECOVER loop inside the L2; and
//!   a typical block of transfers for scale;
//! - per plain-EVM workload, a [`PlainEvm`]: raw revm's nanoseconds per gas under L1's own
//!   gas schedule, on the same machine in the same run. The ECRECOVER loop is the reference:
//!   it is what L1 sells a signature check for, the work EXECUTE's per-transaction charge is
//!   modelled on, and among the most expensive per gas of L1's common operations.
//!
//! A trace that takes more nanoseconds per charged gas than the reference buys verification
//! work cheaper than L1 sells its own; the section says so row by row. Every `answer` must be
//! a valid verdict charging exactly the charge, or the run fails.

use super::blocks::{genesis_store, l2_schedule, sign};
use super::report::thousands;
use super::{best_of, execute_call, time_answer, time_decode};
use crate::bench::measure;
use crate::bench::workloads::{BenchBlock, Workload, address, bench_env, call};
use crate::execute_local::chain::ChainRules;
use crate::execute_local::execute::record_trace;
use crate::execute_local::forks::ForkSchedule;
use crate::execute_local::l2::L2Block;
use crate::execute_local::replay::{GenesisAccount, execute_on_store};
use crate::execute_local::store::StateStore;
use crate::proposer::hostile::{
    ACCOUNT_SWEEPER, CODE_SWEEPER, SLOT_SWEEPER, garbage_txs, genesis_accounts,
    invalid_signature_txs,
};
use crate::protocol::{BlockInputs, MAX_BLOCK_INPUT_BYTES, MAX_TXS_PER_BLOCK};
use alloy_consensus::TxEip1559;
use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Chain id of the pricing L2.
const CHAIN_ID: u64 = 902;
/// Funded signing keys.
const KEYS: usize = 16;
/// Empty blocks before the measured ones, so BLOCKHASH can reach 256 blocks back.
const HISTORY: u64 = 256;
/// The number of every measured block (all built on the same head).
const MEASURED: u64 = HISTORY + 1;
/// `BLOCKHASH(NUMBER - 256)`, stored: the deepest header a block may read.
const OLD_HASH: Address = Address::new([0x5b; 20]);
/// The ECRECOVER loop (see [`ECRECOVER_LOOP_CODE`]).
const ECRECOVER_LOOP: Address = Address::new([0x5a; 20]);
/// EXECUTE's sizes: the rollup's default `MAX_L2_GAS_LIMIT`.
const GAS_LIMIT: u64 = 1_000_000;

// PUSH2 0x0100 NUMBER SUB BLOCKHASH PUSH0 SSTORE STOP
const OLD_HASH_CODE: &[u8] = &[0x61, 0x01, 0x00, 0x43, 0x03, 0x40, 0x5f, 0x55, 0x00];

// Calldata: the 128-byte ECRECOVER input, then a count n. Calls ECRECOVER n times on it.
// PUSH1 0x80 PUSH0 PUSH0 CALLDATACOPY PUSH1 0x80 CALLDATALOAD
// JUMPDEST(8) DUP1 ISZERO PUSH1 0x21 JUMPI
//   PUSH1 0x20 PUSH1 0x80 PUSH1 0x80 PUSH0 PUSH1 1 GAS STATICCALL POP
//   PUSH1 1 SWAP1 SUB PUSH1 8 JUMP
// JUMPDEST(0x21) STOP
const ECRECOVER_LOOP_CODE: &[u8] = &[
    0x60, 0x80, 0x5f, 0x5f, 0x37, 0x60, 0x80, 0x35, 0x5b, 0x80, 0x15, 0x60, 0x21, 0x57, 0x60, 0x20,
    0x60, 0x80, 0x60, 0x80, 0x5f, 0x60, 0x01, 0x5a, 0xfa, 0x50, 0x60, 0x01, 0x90, 0x03, 0x60, 0x08,
    0x56, 0x5b, 0x00,
];

/// Sizes of the pricing measurements.
#[derive(Debug, Clone, Copy)]
pub struct PricingSizes {
    /// Funded accounts in the L2 pre-state nobody touches (depth for the account trie).
    pub background_accounts: u64,
    /// Timed runs per trace; the fastest counts.
    pub reps: u32,
    /// ECRECOVER calls of the plain-EVM reference.
    pub reference_calls: u64,
}

impl PricingSizes {
    pub const FULL: Self = Self { background_accounts: 100_000, reps: 3, reference_calls: 5_000 };
    pub const QUICK: Self = Self { background_accounts: 500, reps: 1, reference_calls: 50 };
}

/// One trace's price and cost.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PricedTrace {
    pub name: String,
    pub gas_limit: u64,
    pub txs: usize,
    pub skipped: usize,
    pub gas_used: u64,
    pub trace_bytes: usize,
    /// `ExecuteCall::gas_cost`.
    pub charge: u64,
    /// `ExecutePrecompile::answer`, fastest of the runs.
    pub time: Duration,
    /// Of which: decoding the transactions and recovering their senders (`L2Block::new`
    /// alone, fastest of the runs).
    pub recovery: Duration,
}

impl PricedTrace {
    pub fn ns_per_gas(&self) -> f64 {
        self.time.as_nanos() as f64 / self.charge.max(1) as f64
    }
}

/// Raw revm on a plain-EVM workload, under L1's gas schedule.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlainEvm {
    pub name: String,
    pub gas: u64,
    pub time: Duration,
}

impl PlainEvm {
    pub fn ns_per_gas(&self) -> f64 {
        self.time.as_nanos() as f64 / self.gas.max(1) as f64
    }
}

/// Everything the section shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pricing {
    pub traces: Vec<PricedTrace>,
    /// The first one is the reference.
    pub plain: Vec<PlainEvm>,
}

impl Pricing {
    /// The reference's nanoseconds per gas.
    pub fn reference(&self) -> Option<&PlainEvm> {
        self.plain.first()
    }

    /// Traces that took more nanoseconds per charged gas than the reference.
    pub fn underpriced(&self) -> Vec<&PricedTrace> {
        let Some(reference) = self.reference() else { return Vec::new() };
        self.traces.iter().filter(|t| t.ns_per_gas() > reference.ns_per_gas()).collect()
    }
}

/// Builds the pricing L2, prices every trace, then measures the plain-EVM workloads.
pub fn run(sizes: &PricingSizes, mut progress: impl FnMut(&str)) -> Result<Pricing> {
    let chain = PricingChain::new(sizes).context("building the pricing L2")?;
    let mut traces = Vec::new();
    for (name, block) in chain.blocks()? {
        let priced = chain.price(&name, &block, sizes.reps).with_context(|| name.clone())?;
        progress(&trace_row(&priced, None));
        traces.push(priced);
    }
    let ecrecover = plain_evm(ecrecover_workload(sizes.reference_calls)?, sizes.reps)?;
    let transfers = plain_evm(
        crate::bench::workloads::transfers(1, 2_000, sizes.background_accounts),
        sizes.reps,
    )?;
    let plain = vec![ecrecover, transfers];
    for p in &plain {
        progress(&format!("{}: {:.2} ns/gas", p.name, p.ns_per_gas()));
    }
    Ok(Pricing { traces, plain })
}

/// The pricing L2: a store holding its genesis and [`HISTORY`] empty blocks.
struct PricingChain {
    _dir: tempfile::TempDir,
    store: StateStore,
    rules: ChainRules,
    schedule: ForkSchedule,
    keys: Vec<PrivateKeySigner>,
}

fn key(label: &str, i: u64) -> Result<PrivateKeySigner> {
    PrivateKeySigner::from_bytes(&keccak256(format!("{label}-{i}"))).context("deriving a key")
}

impl PricingChain {
    fn new(sizes: &PricingSizes) -> Result<Self> {
        let keys = (0..KEYS as u64).map(|i| key("pricing-key", i)).collect::<Result<Vec<_>>>()?;
        let funded = |eth: u64| GenesisAccount {
            balance: U256::from(eth) * U256::from(10u64.pow(18)),
            ..Default::default()
        };
        let mut alloc: BTreeMap<Address, GenesisAccount> = (0..sizes.background_accounts)
            .map(|i| (address("pricing-background", i), funded(1)))
            .collect();
        alloc.extend(keys.iter().map(|k| (k.address(), funded(1_000))));
        alloc.extend(genesis_accounts());
        let contract = |code: &'static [u8]| GenesisAccount {
            nonce: 1,
            code: Bytes::from_static(code),
            ..Default::default()
        };
        alloc.insert(OLD_HASH, contract(OLD_HASH_CODE));
        alloc.insert(ECRECOVER_LOOP, contract(ECRECOVER_LOOP_CODE));

        let (dir, store) = genesis_store(&alloc)?;
        let schedule = l2_schedule()?;
        let rules = ChainRules::new(CHAIN_ID, schedule.clone());
        let chain = Self { _dir: dir, store, rules, schedule, keys };
        for number in 1..=HISTORY {
            let block = chain.block(number, GAS_LIMIT, Vec::new())?;
            execute_on_store(&chain.store, &chain.rules, &block)?.commit(&chain.store)?;
        }
        Ok(chain)
    }

    fn block(&self, number: u64, gas_limit: u64, transactions: Vec<Bytes>) -> Result<L2Block> {
        let inputs = BlockInputs {
            number,
            timestamp: 1_800_000_000 + 2 * number,
            fee_recipient: address("pricing-fee-recipient", 0),
            prev_randao: keccak256(number.to_be_bytes()),
            gas_limit,
            base_fee: 1_000_000_000,
            l1_anchor: keccak256(b"pricing-l1-anchor"),
            transactions,
        };
        if inputs.encoded_len() > MAX_BLOCK_INPUT_BYTES
            || inputs.transactions.len() > MAX_TXS_PER_BLOCK as usize
        {
            bail!("block inputs over what `propose` accepts");
        }
        Ok(L2Block::new(inputs)?)
    }

    /// A signed EIP-1559 transaction from funded key `from` with nonce `nonce`.
    fn tx(&self, from: usize, nonce: u64, to: Address, input: Bytes, gas: u64) -> Result<Bytes> {
        let tx = TxEip1559 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 0,
            to: TxKind::Call(to),
            value: U256::ZERO,
            access_list: Default::default(),
            input,
        };
        let key = self.keys.get(from).context("key index")?;
        sign(key, tx)
    }

    /// The measured blocks, each on the same head.
    fn blocks(&self) -> Result<Vec<(String, L2Block)>> {
        let n = MEASURED;
        let sweep = |to: Address, input: Bytes| self.tx(0, 0, to, input, GAS_LIMIT);
        let with_sweep = |mut padding: Vec<Bytes>| -> Result<Vec<Bytes>> {
            padding.push(sweep(SLOT_SWEEPER, Bytes::new())?);
            Ok(padding)
        };
        let transfers = (0..47)
            .map(|i| {
                let to = address("pricing-recipient", i);
                let tx = TxEip1559 {
                    chain_id: CHAIN_ID,
                    nonce: i / KEYS as u64,
                    gas_limit: 21_000,
                    max_fee_per_gas: 2_000_000_000,
                    to: TxKind::Call(to),
                    value: U256::from(1),
                    ..Default::default()
                };
                sign(&self.keys[(i % KEYS as u64) as usize], tx)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut list = vec![(
            "typical: 47 ETH transfers to fresh accounts".to_string(),
            self.block(n, GAS_LIMIT, transfers)?,
        )];
        let minimal = minimal_txs()?;
        let count = minimal.len();
        list.push((
            format!("{count} minimal transactions signed by keys with no funds, block gas limit 1"),
            self.block(n, 1, minimal.clone())?,
        ));
        list.push((
            format!("the same {count}, block gas limit 1M"),
            self.block(n, GAS_LIMIT, minimal)?,
        ));
        list.push((
            "560 invalid signatures, then a slot sweep (hostile-signatures)".to_string(),
            self.block(n, GAS_LIMIT, with_sweep(invalid_signature_txs(CHAIN_ID, 560))?)?,
        ));
        list.push((
            "600 undecodable 100-byte transactions, then a slot sweep (hostile-garbage)"
                .to_string(),
            self.block(n, GAS_LIMIT, with_sweep(garbage_txs(600))?)?,
        ));
        list.push((
            "cold-account sweep (node-heavy)".to_string(),
            self.block(n, GAS_LIMIT, vec![sweep(ACCOUNT_SWEEPER, Bytes::new())?])?,
        ));
        list.push((
            "cold-slot sweep".to_string(),
            self.block(n, GAS_LIMIT, vec![sweep(SLOT_SWEEPER, Bytes::new())?])?,
        ));
        list.push((
            "slot deletions".to_string(),
            self.block(n, GAS_LIMIT, vec![sweep(SLOT_SWEEPER, Bytes::from_static(&[1]))?])?,
        ));
        list.push((
            "24 KiB code sweep (code-heavy)".to_string(),
            self.block(n, GAS_LIMIT, vec![sweep(CODE_SWEEPER, Bytes::new())?])?,
        ));
        // 21,000 + 22,100 for the SSTORE, plus a few opcodes: the smallest block that runs it.
        let deep = self.tx(0, 0, OLD_HASH, Bytes::new(), 45_000)?;
        list.push((
            "BLOCKHASH(number - 256), block gas limit 45,000 (header-heavy)".to_string(),
            self.block(n, 45_000, vec![deep])?,
        ));
        // About 3,160 gas per call, and room for the intrinsic and call data gas.
        let loop_input = ecrecover_input((GAS_LIMIT - 50_000) / 3_200)?;
        list.push((
            "ECRECOVER loop inside the L2".to_string(),
            self.block(n, GAS_LIMIT, vec![sweep(ECRECOVER_LOOP, loop_input)?])?,
        ));
        Ok(list)
    }

    /// Records `block`'s trace on the head and times EXECUTE's answer to it.
    fn price(&self, name: &str, block: &L2Block, reps: u32) -> Result<PricedTrace> {
        let head = self.store.head()?.context("the L2 store has no head")?;
        let (trace, steps) = record_trace(&self.store, &self.rules, std::slice::from_ref(block))?;
        let step = steps.first().context("the trace has no block")?;
        let call = execute_call(head.state_root, &trace, step)?;
        let data = call.abi_encode();
        let charge = call.gas_cost()?;
        Ok(PricedTrace {
            name: name.to_string(),
            gas_limit: block.inputs.gas_limit,
            txs: block.inputs.transactions.len(),
            skipped: step.outcome.skipped.len(),
            gas_used: step.outcome.gas_used,
            trace_bytes: call.trace.len(),
            charge,
            time: best_of(reps, || time_answer(&self.schedule, &data, charge))?,
            recovery: best_of(reps, || time_decode(block).map(|(elapsed, _)| elapsed))?,
        })
    }
}

/// As many of the smallest signed transactions as one block may frame (`propose`'s byte and
/// count caps), each from its own key that holds nothing: every one costs EXECUTE a full
/// sender recovery, and is then skipped.
fn minimal_txs() -> Result<Vec<Bytes>> {
    let mut txs = Vec::new();
    let mut len = crate::protocol::BLOCK_INPUTS_FIXED_LEN;
    for i in 0..u64::from(MAX_TXS_PER_BLOCK) {
        let raw = crate::proposer::hostile::minimal_signed_tx(CHAIN_ID, i)
            .context("signing a minimal transaction")?;
        if len + 4 + raw.len() > MAX_BLOCK_INPUT_BYTES {
            break;
        }
        len += 4 + raw.len();
        txs.push(raw);
    }
    Ok(txs)
}

/// A valid ECRECOVER input (hash, v, r, s) followed by the loop's count.
fn ecrecover_input(calls: u64) -> Result<Bytes> {
    let hash = keccak256(b"pricing-ecrecover");
    let signature = key("pricing-ecrecover-key", 0)?.sign_hash_sync(&hash).context("signing")?;
    let mut input = hash.to_vec();
    input.extend_from_slice(&U256::from(27 + u64::from(signature.v())).to_be_bytes::<32>());
    input.extend_from_slice(&signature.r().to_be_bytes::<32>());
    input.extend_from_slice(&signature.s().to_be_bytes::<32>());
    input.extend_from_slice(&U256::from(calls).to_be_bytes::<32>());
    Ok(input.into())
}

/// The reference: one transaction calling ECRECOVER `calls` times, on L1's schedule.
fn ecrecover_workload(calls: u64) -> Result<Workload> {
    let sender = address("pricing-reference-sender", 0);
    let funded = GenesisAccount { balance: U256::from(10u64.pow(18)), ..Default::default() };
    let contract = GenesisAccount {
        nonce: 1,
        code: Bytes::from_static(ECRECOVER_LOOP_CODE),
        ..Default::default()
    };
    let pre = BTreeMap::from([(sender, funded), (ECRECOVER_LOOP, contract)]);
    let gas = 100_000 + calls * 3_200;
    let tx = call(sender, 0, ECRECOVER_LOOP, U256::ZERO, ecrecover_input(calls)?, gas);
    Ok(Workload {
        name: format!("ECRECOVER loop ({calls} calls, one transaction)"),
        fork: "Osaka".into(),
        pre,
        blocks: vec![BenchBlock { env: bench_env(1, gas + 1_000_000), txs: vec![tx] }],
        lift_tx_gas_cap: false,
    })
}

fn plain_evm(workload: Workload, reps: u32) -> Result<PlainEvm> {
    let rules = measure::rules(&workload)?;
    let mut best: Option<(Duration, u64)> = None;
    for _ in 0..reps.max(1) {
        let (time, gas) = measure::baseline_with_gas(&workload, &rules)?;
        if best.is_none_or(|(t, _)| time < t) {
            best = Some((time, gas));
        }
    }
    let (time, gas) = best.context("no run")?;
    Ok(PlainEvm { name: workload.name, gas, time })
}

fn trace_row(t: &PricedTrace, reference: Option<&PlainEvm>) -> String {
    let ratio = reference.map_or(String::new(), |r| {
        let x = t.ns_per_gas() / r.ns_per_gas();
        format!(" | {x:.2}x | {}", if x <= 1.0 { "yes" } else { "**no**" })
    });
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {:.3} | {:.0}% | {:.3}{ratio} |",
        t.name,
        t.gas_limit,
        t.txs,
        t.skipped,
        t.trace_bytes,
        t.charge,
        t.gas_used,
        t.time.as_secs_f64() * 1e3,
        100.0 * t.recovery.as_secs_f64() / t.time.as_secs_f64().max(1e-12),
        t.ns_per_gas(),
    )
}

/// The markdown section.
pub fn section(p: &Pricing) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Pricing: EXECUTE's charge against its CPU\n");
    let per_tx = thousands(crate::protocol::EXECUTE_GAS_PER_TX);
    let _ = writeln!(out, "{}", METHOD.replace("{PER_TX}", &per_tx));
    let _ =
        writeln!(out, "| plain EVM (raw revm, L1's gas schedule) | gas | time (ms) | ns per gas |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for plain in &p.plain {
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {:.3} |",
            plain.name,
            plain.gas,
            plain.time.as_secs_f64() * 1e3,
            plain.ns_per_gas()
        );
    }
    let _ = writeln!(
        out,
        "\n| trace | L2 gas limit | txs | skipped | trace bytes | EXECUTE charge | L2 gas used | `answer` (ms) | of which decode + sender recovery | ns per charged gas | x reference | pays at least the reference |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for t in &p.traces {
        let _ = writeln!(out, "{}", trace_row(t, p.reference()));
    }
    let worst = p.traces.iter().max_by(|a, b| a.ns_per_gas().total_cmp(&b.ns_per_gas()));
    if let (Some(worst), Some(reference)) = (worst, p.reference()) {
        let under = p.underpriced();
        let verdict = if under.is_empty() {
            "every trace pays at least what L1 charges for the same CPU".to_string()
        } else {
            format!(
                "{} of {} traces buy CPU cheaper than the reference: {}",
                under.len(),
                p.traces.len(),
                under.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join("; ")
            )
        };
        let _ = writeln!(
            out,
            "\nThe costliest trace per charged gas is \"{}\" at {:.3} ns, {:.2}x the reference's {:.3} ns per gas: {verdict}.",
            worst.name,
            worst.ns_per_gas(),
            worst.ns_per_gas() / reference.ns_per_gas(),
            reference.ns_per_gas(),
        );
    }
    out
}

const METHOD: &str = "Whether a trace can buy EXECUTE's CPU cheaper than L1 sells its own. Each trace is one L2 block on a pre-state of the bench's background accounts, the hostile workloads' contracts (`proposer::hostile`) and 256 blocks of history; its EXECUTE call is built as a challenge would be, and `ExecutePrecompile::answer` is timed on it given exactly its charge (`100,000 + gas limit + {PER_TX} × transactions + 4 × trace bytes`), fastest of the runs, one thread; every answer must be a valid verdict. Nanoseconds per charged gas are compared with raw revm's nanoseconds per gas on plain L1 execution in the same run. The reference is one transaction calling the ECRECOVER precompile in a loop (3,000 gas per call plus the call's own cost, about 3,160 in all): the price L1 puts on a signature check, the work that dominates EXECUTE's per-transaction cost. A trace at or under 1.00x the reference pays at least what L1 charges for the same CPU. ETH transfers are shown for scale: plain execution of cheap transactions costs far less per gas.

The worst case for the per-transaction charge is as many transactions as `propose` lets one block frame (64 KiB of inputs, at most 1,024 transactions), each the smallest well-formed signed transaction (about 80 bytes), each from its own key that holds nothing: EXECUTE decodes every one and recovers its sender, then skips it; with a block gas limit of 1 the gas-limit part of the charge is gone.
";
