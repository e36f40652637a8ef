//! The EXECUTE section of `docs/benchmarks.md`.
//!
//! Input: the [`ExecuteRow`]s of one run and the sizes they were measured at. Output:
//! markdown: the method, a throughput table, an L1-cost table, and a summary computed from
//! the two tables.

use super::{
    ExecuteRow, ExecuteSizes, L1Cost, L1Outcome, MEMPOOL_TX_BYTES, TX_BASE_GAS, TX_GAS_CAP,
};
use crate::bench::mgas;
use crate::protocol::EXECUTE_BASE_GAS;
use std::fmt::Write as _;
use std::time::Duration;

/// Gas every challenge pays whatever its block: intrinsic gas and EXECUTE's base charge.
const FIXED_GAS: u64 = TX_BASE_GAS + EXECUTE_BASE_GAS;

/// `1234567` as `1,234,567`.
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn millions(gas: u64) -> String {
    format!("{}M", gas as f64 / 1e6)
}

/// One line for the terminal while the bench runs.
pub fn progress_line(row: &ExecuteRow) -> String {
    let head = format!("EXECUTE {} @ {}", row.kind, millions(row.gas_limit));
    match &row.l1 {
        None => format!(
            "{head}: {} txs, {:.1} Mgas/s (stateful replay {:.1}, raw revm {:.1})",
            row.txs,
            mgas(row.gas_used, row.execute),
            mgas(row.gas_used, row.stateful),
            mgas(row.gas_used, row.raw_revm)
        ),
        Some(cost) => format!(
            "{head}: trace {} bytes, L1 gas {}, tx {} bytes",
            row.trace_bytes,
            l1_gas_cell(cost),
            cost.tx_bytes
        ),
    }
}

/// The whole section.
pub fn section(rows: &[ExecuteRow], sizes: &ExecuteSizes) -> String {
    let mut out = String::from("## EXECUTE\n\n");
    out.push_str(
        &METHOD
            .replace("{BG}", &thousands(sizes.background_accounts))
            .replace("{SLOTS}", &thousands(sizes.background_slots))
            .replace("{REPS}", &sizes.reps.to_string())
            .replace("{PER_TX}", &thousands(crate::protocol::EXECUTE_GAS_PER_TX)),
    );
    out.push_str(&throughput_table(rows));
    out.push_str(&l1_table(rows));
    out.push_str(&summary(rows));
    out
}

fn throughput_table(rows: &[ExecuteRow]) -> String {
    let mut out = String::from("\n### Verification throughput\n\n");
    out.push_str(
        "| block | L2 gas limit | txs | L2 gas used | EXECUTE `answer` Mgas/s | of which decode + sender recovery | stateful replay Mgas/s | raw revm Mgas/s | EXECUTE / stateful | EXECUTE / raw revm |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let speed = |t: Duration| mgas(row.gas_used, t);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} | {:.0}% | {:.1} | {:.1} | {:.2}x | {:.2}x |",
            row.kind,
            millions(row.gas_limit),
            txs_cell(row),
            thousands(row.gas_used),
            speed(row.execute),
            share(row.recovery, row.execute),
            speed(row.stateful),
            speed(row.raw_revm),
            speed(row.execute) / speed(row.stateful),
            speed(row.execute) / speed(row.raw_revm),
        );
    }
    out
}

fn share(part: Duration, whole: Duration) -> f64 {
    100.0 * part.as_secs_f64() / whole.as_secs_f64().max(1e-9)
}

fn l1_gas_cell(cost: &L1Cost) -> String {
    match &cost.outcome {
        L1Outcome::Mined { gas_used, .. } if *gas_used == cost.expected_gas => thousands(*gas_used),
        L1Outcome::Mined { gas_used, .. } => {
            format!("{} (formula: {})", thousands(*gas_used), thousands(cost.expected_gas))
        }
        L1Outcome::Refused(_) => format!("refused (needs {})", thousands(cost.expected_gas)),
    }
}

fn fits_cell(fits: bool, value: u64, limit: u64) -> String {
    if fits { "yes".into() } else { format!("**no** (+{})", thousands(value - limit)) }
}

fn l1_table(rows: &[ExecuteRow]) -> String {
    let mut out = String::from("\n### L1 gas of a one-block challenge\n\n");
    out.push_str(
        "| block | L2 gas limit | L2 gas used | witness bytes | trace bytes | L1 tx bytes | EXECUTE charge | calldata gas (EIP-7623 floor) | L1 gas used (receipt) | fits 2^24 gas | fits 128 KiB |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n",
    );
    let mut refusal = None;
    for row in rows {
        let Some(cost) = &row.l1 else { continue };
        if let L1Outcome::Refused(reason) = &cost.outcome {
            refusal.get_or_insert(reason.clone());
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} | {} | {} |",
            row.kind,
            millions(row.gas_limit),
            thousands(row.gas_used),
            thousands(row.witness_bytes as u64),
            thousands(row.trace_bytes as u64),
            thousands(cost.tx_bytes as u64),
            thousands(row.charge),
            thousands(cost.calldata.standard_gas()),
            thousands(cost.calldata.floor_gas()),
            l1_gas_cell(cost),
            fits_cell(cost.fits_gas_cap(), cost.expected_gas, TX_GAS_CAP),
            fits_cell(cost.fits_mempool(), cost.tx_bytes as u64, MEMPOOL_TX_BYTES as u64),
        );
    }
    if let Some(reason) = refusal {
        let _ = writeln!(out, "\nThe dev L1's answer to a transaction over the cap: `{reason}`.");
    }
    out
}

/// The largest gas limit of `kind` whose challenge fits both limits, and what stops the next.
/// The transactions measured, and how many were generated when the witness budget cut the
/// block.
fn txs_cell(row: &ExecuteRow) -> String {
    if row.txs < row.generated_txs {
        format!("{} of {}", row.txs, row.generated_txs)
    } else {
        row.txs.to_string()
    }
}

fn budget_line(rows: &[ExecuteRow], kind: &str) -> String {
    let of_kind: Vec<(&ExecuteRow, &L1Cost)> =
        rows.iter().filter(|r| r.kind == kind).filter_map(|r| Some((r, r.l1.as_ref()?))).collect();
    let fits = |c: &L1Cost| c.fits_gas_cap() && c.fits_mempool();
    let best = of_kind.iter().filter(|(_, c)| fits(c)).map(|(r, _)| r).next_back();
    let mut line = match best {
        Some(r) => {
            let mut fits = format!(
                "- {kind}: up to {} fits ({:.3} witness bytes per L2 gas there",
                millions(r.gas_limit),
                r.witness_bytes as f64 / r.gas_used.max(1) as f64
            );
            if r.txs < r.generated_txs {
                let _ = write!(
                    fits,
                    "; the witness budget kept {} of its {} transactions",
                    r.txs, r.generated_txs
                );
            }
            fits.push(')');
            fits
        }
        None => format!("- {kind}: no measured size fits"),
    };
    if let Some((r, c)) =
        of_kind.iter().find(|(r, c)| !fits(c) && best.is_none_or(|b| r.gas_limit > b.gas_limit))
    {
        let why = match (c.fits_gas_cap(), c.fits_mempool()) {
            (false, false) => "over the 2^24 gas cap and the 128 KiB size",
            (false, true) => "over the 2^24 gas cap",
            _ => "over the 128 KiB transaction size",
        };
        let _ = write!(line, "; {} does not: {why}", millions(r.gas_limit));
    }
    line.push('.');
    line
}

fn summary(rows: &[ExecuteRow]) -> String {
    let gas: u64 = rows.iter().map(|r| r.gas_used).sum();
    let total = |pick: fn(&ExecuteRow) -> Duration| rows.iter().map(pick).sum::<Duration>();
    let execute = mgas(gas, total(|r| r.execute));
    let (stateful, raw) = (mgas(gas, total(|r| r.stateful)), mgas(gas, total(|r| r.raw_revm)));
    let recovery = share(total(|r| r.recovery), total(|r| r.execute));
    let without = mgas(gas, total(|r| r.execute).saturating_sub(total(|r| r.recovery)));
    let mut kinds: Vec<&str> = rows.iter().map(|r| r.kind).collect();
    kinds.dedup();
    let budget: Vec<String> = kinds.iter().map(|k| format!("  {}", budget_line(rows, k))).collect();
    format!(
        "\n### Summary (computed from the two tables)\n\n\
         - EXECUTE over all {n} blocks: {execute:.1} L2 Mgas/s ({:.1} L2 Mgas in total); stateful replay {stateful:.1}, raw revm {raw:.1}: EXECUTE runs at {:.2}x stateful replay and {:.2}x raw revm.\n\
         - Decoding the transactions and recovering their senders (`L2Block::new`; libsecp256k1 through alloy's `secp256k1` feature) is {recovery:.0}% of EXECUTE's time; the rest (stateless verification proper) runs at {without:.1} L2 Mgas/s.\n\
         {}\n\
         - What fits one L1 transaction (2^24 gas and 128 KiB):\n{}\n",
        gas as f64 / 1e6,
        execute / stateful,
        execute / raw,
        l1_lines(rows),
        budget.join("\n"),
        n = rows.len(),
    )
}

/// The verdict and L1 gas lines of the summary.
fn l1_lines(rows: &[ExecuteRow]) -> String {
    let sent: Vec<(&ExecuteRow, &L1Cost)> =
        rows.iter().filter_map(|r| Some((r, r.l1.as_ref()?))).collect();
    let mined: Vec<u64> = sent
        .iter()
        .filter_map(|(_, c)| match c.outcome {
            L1Outcome::Mined { gas_used, .. } if gas_used == c.expected_gas => Some(gas_used),
            _ => None,
        })
        .collect();
    let refused = sent.iter().filter(|(_, c)| matches!(c.outcome, L1Outcome::Refused(_))).count();
    let floor = sent
        .iter()
        .filter(|(r, c)| c.calldata.floor_gas() > c.calldata.standard_gas() + r.charge)
        .count();
    let beyond: u64 =
        sent.iter().map(|(r, c)| c.expected_gas.saturating_sub(FIXED_GAS + r.gas_limit)).sum();
    let bytes: u64 = sent.iter().map(|(r, _)| r.trace_bytes as u64).sum();
    let per_byte = beyond as f64 / bytes.max(1) as f64;
    format!(
        "- Verdicts: every local `answer` was `Verdict {{ valid: true }}` charging exactly `gas_cost`; on the dev L1, every `eth_call` answered 1 and {} of {} mined receipts' `gasUsed` equal `21,000 + max(calldata + charge, floor)`; the {refused} over the cap were refused by the node.\n\
         - L1 gas beyond `121,000 + L2 gas limit`: {per_byte:.1} gas per trace byte over the {} challenges (4 of them charged by EXECUTE, the rest calldata). The EIP-7623 floor, which replaces calldata + execution when larger, bound in {floor} of them. So one challenge needs about `gas_limit + {per_byte:.1} × trace_bytes + 121,000 ≤ 2^24`, and the trace must stay under 128 KiB.",
        mined.len(),
        sent.len() - refused,
        sent.len(),
    )
}

const METHOD: &str =
    "What one challenge costs, measured on typical L2 blocks in the same run as the table above.

- **Typical block.** One L2 block on top of the genesis, filled up to its gas limit with one
  kind of common transaction, every one signed (EIP-1559, secp256k1) and every one touching
  state the block has not touched before: *ETH transfers* to fresh accounts (21,000 gas
  each); *storage writes + deletes* (a contract writes 8 fresh slots, then deletes 8 of its
  occupied slots, in turns); *ERC-20 transfers* of the fixture token
  (`shared/fixtures/workloads/erc20_transfer.json`) to fresh holders; and a *mixed* block
  interleaving transfers, token transfers and 2-slot writes and deletes. The pre-state holds
  {BG} funded accounts, the storage contract {SLOTS} occupied slots and the token {SLOTS}
  holders. \"Typical\" thus means common transactions in a full block with no help from
  locality: the case the budget must cover, because EXECUTE charges the block's gas limit
  whatever it uses, and a full block of fresh-state transactions carries about the largest
  witness its gas allows (real blocks re-touch hot accounts and contracts, which shares trie
  nodes; a larger pre-state lengthens every path by about one node per 16x). Under protocol
  v2 the witness budget (98,304 trace bytes) fills before a large gas limit does: the STF
  skips every transaction from the one whose reads would cross it, and the row measures the
  block with those transactions left out (the txs column then reads \"kept of generated\",
  gas used is what remains; the gas limit, and so the charge, stays).
- **Throughput.** `ExecutePrecompile::answer(call data, charge)`: exactly what the precompile
  runs (strict ABI decode, trace decode, transaction decode and sender recovery, stateless
  verification, verdict). Against, on the same block: *stateful replay*, `L2Block::new`
  (decode, sender recovery) + `execute_on_store` (reads through the tries stored in rocksdb,
  witness meter on, post-state root computed, nothing written), which is what the challenger
  does per block; and *raw revm* as
  in the table above (senders recovered beforehand, no roots). The share of EXECUTE's time
  spent decoding transactions and recovering senders is `L2Block::new` timed alone. Fastest of
  {REPS} wall-clock run(s) each, one thread; Mgas/s = L2 gas used / time.
- **L1 cost.** The embedded dev L1 (`Devnet::spawn`, default configuration: Osaka, 30M block
  gas limit, EXECUTE at `0x…0101`) is started in-process. Each challenge is an EIP-1559
  transaction from a dev account straight to the precompile, call data
  `ExecuteCall::abi_encode()`, gas limit the documented total
  `21,000 + max(calldata + charge, floor)`. `eth_call` checks the verdict is 1 before it is
  sent; the table shows the receipt's `gasUsed`. The charge is
  `100,000 + gas limit + {PER_TX} × transactions + 4 × trace bytes` (`ExecuteCall::gas_cost`);
  calldata gas is
  EIP-2028's 4/16 per byte, with the EIP-7623 floor in parentheses (10 per zero byte, 40 per
  non-zero byte), which counts only when it exceeds calldata + execution. Witness bytes are
  nodes + codes + ancestor headers; the trace adds the block inputs (the signed
  transactions) and framing. A transaction over the 2^24 cap (EIP-7825) is sent too, to
  show the node's refusal. 128 KiB is the largest signed
  transaction the public mempool relays (geth's `txMaxSize`); the dev L1 does not enforce it.
";
