//! `native-challenger bond deposit|withdraw|status|claim`: the challenger's bond and rewards
//! in the rollup contract, with the key of the configuration (local or remote signer).

use super::run::key_from;
use alloy_primitives::utils::{format_ether, parse_ether};
use alloy_primitives::{Bytes, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_sol_types::SolCall;
use anyhow::{Context, Result, bail};
use native_challenger::config::Config;
use native_challenger::daemon::tx_policy;
use native_challenger::rollup::{NativeRollup, RollupClient};
use native_challenger::submitter::{TxKey, TxManager};
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
    let key = key_from(&config)?
        .context("no key: set [challenger] key_env, keystore or remote_signer")?;
    let me = key.address();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let provider = ProviderBuilder::new()
            .connect(&l1.rpc[0])
            .await
            .with_context(|| format!("connecting to {}", l1.rpc[0]))?
            .erased();
        if let TxKey::Remote(remote) = &key {
            remote.check().await.map_err(anyhow::Error::msg)?;
        }
        let chain_id = provider.get_chain_id().await?;
        // Sends go through the submitter's transaction manager: the same signing (local or
        // remote), fee bumping and confirmations as challenges.
        let tx = TxManager::new(provider.clone(), key, chain_id, tx_policy(&config));
        let send = |call: Bytes, value: U256| tx.send(l1.rollup, call, value, |_| {});
        let client = RollupClient::at(provider, l1.rollup, me);
        match args.action {
            BondAction::Deposit { ether } => {
                let wei = parse_ether(&ether)
                    .with_context(|| format!("{ether:?} is not an ether amount"))?;
                let call = NativeRollup::depositChallengerBondCall {}.abi_encode();
                let r = send(call.into(), wei).await?;
                println!("deposited {ether} ETH in tx {}", r.transaction_hash);
            }
            BondAction::Withdraw { ether } => {
                let wei = parse_ether(&ether)
                    .with_context(|| format!("{ether:?} is not an ether amount"))?;
                let call = NativeRollup::withdrawChallengerBondCall { amount: wei }.abi_encode();
                let r = send(call.into(), U256::ZERO).await?;
                println!("withdrew {ether} ETH of bond in tx {}", r.transaction_hash);
            }
            BondAction::Claim => {
                let credits = client.credits(me).await?;
                if credits.is_zero() {
                    bail!("nothing to claim");
                }
                let r = send(NativeRollup::withdrawCall {}.abi_encode().into(), U256::ZERO).await?;
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
