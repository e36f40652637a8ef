//! Fork schedules for the `network` names of the BlockchainTests fixtures.
//!
//! Input: a network name such as `Cancun`, `Paris`/`Merge`, `ShanghaiToCancunAtTime15k`.
//! Output: [`Network::Supported`] with a [`ForkSchedule`] for post-merge networks (Paris,
//! Shanghai, Cancun, Prague, Osaka from genesis, or `<A>To<B>AtTime<N>` transitions between
//! two of them), [`Network::Skipped`] with a reason for pre-merge and unknown names.
//! Invariants: every block-activated fork up to Paris is active at block 0 (the DAO fork is
//! never scheduled, so no irregular state change happens); Shanghai..Osaka are timestamp
//! forks: those up to `A` at 0, those after `A` up to `B` at `N`, later ones never. The
//! schedule implements `EthereumHardforks` and `EthExecutorSpec` (deposit contract `None`,
//! i.e. the mainnet contract, as the fixtures expect) so it can drive alloy-evm's
//! `EthBlockExecutor`; [`ForkSchedule::spec_id`] is alloy-evm's own mapping on this schedule.

use alloy_eips::eip7840::BlobParams;
use alloy_evm::eth::spec::EthExecutorSpec;
use alloy_hardforks::{EthereumChainHardforks, EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::{Address, U256};
use revm::primitives::hardfork::SpecId;

/// What the conformance runner should do with a fixture's `network`.
#[derive(Debug, Clone)]
pub enum Network {
    /// A post-merge network this crate executes.
    Supported(ForkSchedule),
    /// A network this crate does not execute, and why.
    Skipped { reason: String },
}

/// Post-merge forks, in activation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PostMergeFork {
    Paris,
    Shanghai,
    Cancun,
    Prague,
    Osaka,
}

impl PostMergeFork {
    /// All post-merge forks, oldest first.
    pub const ALL: [Self; 5] =
        [Self::Paris, Self::Shanghai, Self::Cancun, Self::Prague, Self::Osaka];

    /// Parses a fork name as used in fixture network names (`Merge` is Paris).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "Paris" | "Merge" => Some(Self::Paris),
            "Shanghai" => Some(Self::Shanghai),
            "Cancun" => Some(Self::Cancun),
            "Prague" => Some(Self::Prague),
            "Osaka" => Some(Self::Osaka),
            _ => None,
        }
    }

    /// The alloy-hardforks identifier of this fork.
    pub const fn hardfork(self) -> EthereumHardfork {
        match self {
            Self::Paris => EthereumHardfork::Paris,
            Self::Shanghai => EthereumHardfork::Shanghai,
            Self::Cancun => EthereumHardfork::Cancun,
            Self::Prague => EthereumHardfork::Prague,
            Self::Osaka => EthereumHardfork::Osaka,
        }
    }

    /// Blob parameters (EIP-4844 / EIP-7691 / EIP-7918) in force under this fork, if any.
    pub const fn blob_params(self) -> Option<BlobParams> {
        match self {
            Self::Paris | Self::Shanghai => None,
            Self::Cancun => Some(BlobParams::cancun()),
            Self::Prague => Some(BlobParams::prague()),
            Self::Osaka => Some(BlobParams::osaka()),
        }
    }
}

/// Forks before the merge, by the names fixtures use (transitions are matched by prefix).
const PRE_MERGE: [&str; 18] = [
    "Frontier",
    "Homestead",
    "Dao",
    "EIP150",
    "TangerineWhistle",
    "EIP158",
    "SpuriousDragon",
    "Byzantium",
    "Constantinople",
    "ConstantinopleFix",
    "Petersburg",
    "Istanbul",
    "MuirGlacier",
    "Berlin",
    "London",
    "ArrowGlacier",
    "GrayGlacier",
    "Tangerine",
];

/// Block-number forks up to London, all active at genesis in a post-merge schedule.
const GENESIS_BLOCK_FORKS: [EthereumHardfork; 10] = [
    EthereumHardfork::Frontier,
    EthereumHardfork::Homestead,
    EthereumHardfork::Tangerine,
    EthereumHardfork::SpuriousDragon,
    EthereumHardfork::Byzantium,
    EthereumHardfork::Constantinople,
    EthereumHardfork::Petersburg,
    EthereumHardfork::Istanbul,
    EthereumHardfork::Berlin,
    EthereumHardfork::London,
];

/// The fork the L2 runs when a configuration names none: the newest fork revm supports that
/// mainnet has activated (Fusaka, December 2025).
pub const DEFAULT_FORK: &str = "Osaka";

/// Maps a fixture `network` name to a schedule or a skip reason.
pub fn network(name: &str) -> Network {
    let (from, transition) = match name.split_once("To") {
        Some((from, rest)) => (from, Some(rest)),
        None => (name, None),
    };
    if PRE_MERGE.contains(&from) {
        return Network::Skipped {
            reason: format!(
                "pre-merge fork {name}: proof-of-work rules (difficulty, ommers, rewards) are out of scope"
            ),
        };
    }
    let unknown = || Network::Skipped { reason: format!("unknown network {name}") };
    let Some(from) = PostMergeFork::from_name(from) else {
        return unknown();
    };
    match transition {
        None => Network::Supported(ForkSchedule::new(name, from, None)),
        Some(rest) => match parse_transition(rest) {
            Some((to, at)) if to > from => {
                Network::Supported(ForkSchedule::new(name, from, Some((to, at))))
            }
            _ => unknown(),
        },
    }
}

/// Parses `<Fork>AtTime<N>` or `<Fork>Time<N>`; `N` is decimal with an optional `k` (x1000).
fn parse_transition(rest: &str) -> Option<(PostMergeFork, u64)> {
    let (fork, when) = rest.split_once("AtTime").or_else(|| rest.split_once("Time"))?;
    let fork = PostMergeFork::from_name(fork)?;
    let (digits, scale) = match when.strip_suffix('k') {
        Some(digits) => (digits, 1000),
        None => (when, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let at = digits.parse::<u64>().ok()?.checked_mul(scale)?;
    Some((fork, at))
}

/// Fork activations of one post-merge test network.
#[derive(Debug, Clone)]
pub struct ForkSchedule {
    name: String,
    /// `(fork, activation timestamp)` for every scheduled post-merge fork, oldest first;
    /// Paris is listed at 0 although it activates by block (at block 0).
    activations: Vec<(PostMergeFork, u64)>,
    hardforks: EthereumChainHardforks,
}

impl ForkSchedule {
    /// Schedule with every fork up to `from` at genesis, then forks up to `to.0` at `to.1`.
    pub fn new(name: &str, from: PostMergeFork, to: Option<(PostMergeFork, u64)>) -> Self {
        let activations: Vec<(PostMergeFork, u64)> = PostMergeFork::ALL
            .into_iter()
            .filter_map(|fork| match to {
                _ if fork <= from => Some((fork, 0)),
                Some((last, at)) if fork <= last => Some((fork, at)),
                _ => None,
            })
            .collect();
        let paris = ForkCondition::TTD {
            activation_block_number: 0,
            fork_block: None,
            total_difficulty: U256::ZERO,
        };
        let timestamp_forks = activations
            .iter()
            .filter(|(fork, _)| *fork != PostMergeFork::Paris)
            .map(|&(fork, at)| (fork.hardfork(), ForkCondition::Timestamp(at)));
        let hardforks = EthereumChainHardforks::new(
            GENESIS_BLOCK_FORKS
                .into_iter()
                .map(|fork| (fork, ForkCondition::Block(0)))
                .chain([(EthereumHardfork::Paris, paris)])
                .chain(timestamp_forks),
        );
        Self { name: name.to_string(), activations, hardforks }
    }

    /// The network name this schedule was built for.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Scheduled post-merge forks with their activation timestamps, oldest first.
    pub fn activations(&self) -> &[(PostMergeFork, u64)] {
        &self.activations
    }

    /// The newest post-merge fork active at `timestamp` (Paris at the latest).
    pub fn fork_at(&self, timestamp: u64) -> PostMergeFork {
        self.activations
            .iter()
            .rev()
            .find(|&&(_, at)| at <= timestamp)
            .map_or(PostMergeFork::Paris, |&(fork, _)| fork)
    }

    /// revm spec of a block, exactly as alloy-evm derives it from this schedule.
    pub fn spec_id(&self, number: u64, timestamp: u64) -> SpecId {
        alloy_evm::spec_by_timestamp_and_block_number(self, timestamp, number)
    }

    /// Blob parameters in force for a block at `timestamp`; `None` before Cancun.
    pub fn blob_params_at(&self, timestamp: u64) -> Option<BlobParams> {
        self.fork_at(timestamp).blob_params()
    }

    /// The alloy-hardforks view of this schedule.
    pub fn hardforks(&self) -> &EthereumChainHardforks {
        &self.hardforks
    }
}

impl EthereumHardforks for ForkSchedule {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.hardforks.ethereum_fork_activation(fork)
    }
}

impl EthExecutorSpec for ForkSchedule {
    fn deposit_contract_address(&self) -> Option<Address> {
        None
    }
}

#[cfg(test)]
mod tests;
