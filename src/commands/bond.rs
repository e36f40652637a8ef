//! `native-challenger bond deposit|withdraw|status|claim`: the challenger's bond and rewards
//! in the rollup contract, with the key of the configuration.

use super::run::key_from;
use alloy_primitives::utils::{format_ether, parse_ether};
use alloy_provider::Provider;
use alloy_sol_types::SolCall;
use anyhow::{Context, Result, bail};
use native_challenger::config::Config;
use native_challenger::proposer::driver::signing_provider;
use native_challenger::rollup::{NativeRollup, RollupClient};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct BondArgs {
    #[arg(long, default_value = "config.toml")]
    config: PathBuf,
    #[command(subcommand)]
    action: BondAction,
}

#[derive(Debug, clap::Subcommand)]
enum BondAction {
    /// Deposit this many ether as challenger bond.
    Deposit { ether: String },
    /// Withdraw this many ether of bond not locked by open challenges.
    Withdraw { ether: String },
    /// Bond, locked part, credits and account balance.
    Status,
    /// Withdraw credited rewards and returned bonds.
    Claim,
}

pub fn run(args: BondArgs) -> Result<()> {
    let config = Config::load(&args.config)?;
    let l1 = config.l1()?.clone();
    let signer = key_from(&config)?.context("no key: set [challenger] key_env or keystore")?;
    let me = signer.address();
    let provider = signing_provider(&l1.rpc[0], signer)?;
    let client = RollupClient::at(provider, l1.rollup, me);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        match args.action {
            BondAction::Deposit { ether } => {
                let wei = parse_ether(&ether)
                    .with_context(|| format!("{ether:?} is not an ether amount"))?;
                let r = client.deposit_challenger_bond(wei).await?;
                println!("deposited {ether} ETH in tx {}", r.transaction_hash);
            }
            BondAction::Withdraw { ether } => {
                let wei = parse_ether(&ether)
                    .with_context(|| format!("{ether:?} is not an ether amount"))?;
                let r = client.withdraw_challenger_bond(wei).await?;
                println!("withdrew {ether} ETH of bond in tx {}", r.transaction_hash);
            }
            BondAction::Claim => {
                let credits = client.credits(me).await?;
                if credits.is_zero() {
                    bail!("nothing to claim");
                }
                let r = client.withdraw().await?;
                println!("claimed {} ETH in tx {}", format_ether(credits), r.transaction_hash);
            }
            BondAction::Status => {
                let bond = client.challenger_bond(me).await?;
                let open = client.read(&NativeRollup::openCommitmentsCall::new((me,))).await?;
                let unit = client.read(&NativeRollup::CHALLENGER_BONDCall {}).await?;
                let credits = client.credits(me).await?;
                let balance = client.provider().get_balance(me).await?;
                println!("challenger {me}");
                println!(
                    "  bond: {} ETH ({} open commitments lock {} ETH; {} ETH per commitment)",
                    format_ether(bond),
                    open,
                    format_ether(open * unit),
                    format_ether(unit)
                );
                println!("  credits (claimable): {} ETH", format_ether(credits));
                println!("  account balance: {} ETH", format_ether(balance));
            }
        }
        Ok(())
    })
}
