//! The operator's configuration: one struct from `config.toml`, one section per stage,
//! unknown keys rejected, values validated into typed errors. Secrets never live here.

use crate::execute_local::forks::{Network, network};
use crate::rollup::GenesisSource;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Errors reading or validating the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("parsing {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("[chain] fork = {fork:?}: {reason}")]
    UnsupportedFork { fork: String, reason: String },
    #[error("[chain] chain_id must be non-zero")]
    ZeroChainId,
    #[error("[log] level {level:?} is not one of error, warn, info, debug, trace")]
    BadLogLevel { level: String },
    #[error("section [{0}] is required for this command")]
    MissingSection(&'static str),
    #[error("[l1] rpc needs at least one endpoint")]
    NoEndpoint,
    #[error("[challenger] {0}")]
    Challenger(String),
    #[error("[genesis] file and dev_users exclude each other")]
    Genesis,
    #[error("[metrics] listen {value:?} is not a socket address")]
    BadListen { value: String },
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub chain: ChainConfig,
    pub store: StoreConfig,
    /// The L1 to follow (required by `run` and `bond`).
    #[serde(default)]
    pub l1: Option<L1Config>,
    #[serde(default)]
    pub genesis: GenesisConfig,
    #[serde(default)]
    pub challenger: ChallengerConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub start: StartConfig,
}

/// Where the L2 state starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartConfig {
    /// A snapshot file (`snapshot export`) that initialises an empty `[store] path` instead of
    /// the genesis; checked against the rollup contract before use.
    pub snapshot: Option<PathBuf>,
}

/// Where L1 is and how to follow it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L1Config {
    /// JSON-RPC endpoints (http(s):// or ws(s)://), tried in order with failover.
    pub rpc: Vec<String>,
    /// The rollup contract.
    pub rollup: alloy_primitives::Address,
    /// Act on L1 blocks this deep (ignored with `finalized`).
    #[serde(default = "one")]
    pub confirmations: u64,
    /// Act only on finalized L1 blocks.
    #[serde(default)]
    pub finalized: bool,
    /// First L1 block to read (the contract's deployment block).
    #[serde(default)]
    pub start_block: u64,
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// Largest `eth_getLogs` range (smaller when a provider refuses).
    #[serde(default = "default_log_range")]
    pub max_log_range: u64,
    #[serde(default = "default_attempts")]
    pub retry_attempts: u32,
}

/// The L2 genesis: a geth genesis file, or the dev genesis (`native-challenger propose` and
/// the demo use it by default); checked against the root in the contract's batch 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisConfig {
    /// A geth genesis JSON file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Number of dev L2 users funded in the dev genesis (default 16; not with `file`).
    #[serde(default)]
    pub dev_users: Option<usize>,
}

impl GenesisConfig {
    /// Where the genesis comes from.
    pub fn source(&self) -> Result<GenesisSource, ConfigError> {
        match (&self.file, self.dev_users) {
            (Some(_), Some(_)) => Err(ConfigError::Genesis),
            (Some(file), None) => Ok(GenesisSource::File(file.clone())),
            (None, users) => Ok(GenesisSource::Dev { users: users.unwrap_or(DEFAULT_DEV_USERS) }),
        }
    }
}

/// What the challenger does when it finds a lie, and with which key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengerConfig {
    /// `challenge`: prove lies on L1 (needs a key). `watch-only`: alert only, no key.
    #[serde(default)]
    pub mode: Mode,
    /// Environment variable holding the hex private key.
    #[serde(default)]
    pub key_env: Option<String>,
    /// Keystore file (Web3 Secret Storage) and the file holding its password.
    #[serde(default)]
    pub keystore: Option<PathBuf>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// A remote signer's JSON-RPC URL (`eth_signTransaction`) and the address it signs as.
    #[serde(default)]
    pub remote_signer: Option<String>,
    #[serde(default)]
    pub remote_signer_address: Option<alloy_primitives::Address>,
    /// Challenge even when gas costs more than the reward (a watchtower protecting users).
    #[serde(default)]
    pub challenge_always: bool,
    #[serde(default = "yes")]
    pub auto_deposit: bool,
    #[serde(default = "yes")]
    pub auto_claim: bool,
    /// Confirmations of the challenger's own transactions.
    #[serde(default = "one")]
    pub confirmations: u64,
    #[serde(default = "default_resubmit")]
    pub resubmit_after_secs: u64,
    #[serde(default = "default_bump")]
    pub fee_bump_percent: u64,
    #[serde(default = "default_max_fee")]
    pub max_fee_gwei: u64,
    /// Largest challenge transaction, in bytes (128 KiB: the public mempool's limit).
    #[serde(default = "default_tx_size")]
    pub max_tx_size: usize,
    /// Alarm when the account's balance falls below this many wei.
    #[serde(default = "default_min_balance")]
    pub min_balance_wei: u128,
    /// The most challenges advanced at once (each waits for its receipts on its own).
    #[serde(default = "default_concurrency")]
    pub max_concurrent_intents: usize,
    /// Seconds one `[l1] rpc` endpoint has to take a broadcast before the next is tried.
    #[serde(default = "default_send_timeout")]
    pub send_timeout_secs: u64,
}

impl Default for ChallengerConfig {
    /// The same values as the fields' serde defaults (an empty `[challenger]` table).
    fn default() -> Self {
        Self {
            mode: Mode::Challenge,
            key_env: None,
            keystore: None,
            password_file: None,
            remote_signer: None,
            remote_signer_address: None,
            challenge_always: false,
            auto_deposit: true,
            auto_claim: true,
            confirmations: 1,
            resubmit_after_secs: default_resubmit(),
            fee_bump_percent: default_bump(),
            max_fee_gwei: default_max_fee(),
            max_tx_size: default_tx_size(),
            min_balance_wei: default_min_balance(),
            max_concurrent_intents: default_concurrency(),
            send_timeout_secs: default_send_timeout(),
        }
    }
}

/// The challenger's mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Challenge lies whose expected value is positive (reward above gas); an unprofitable
    /// one waits and is re-evaluated until its window closes.
    #[default]
    Challenge,
    /// Challenge every lie whatever it costs (a watchtower protecting users); the same as
    /// `challenge_always = true`.
    Watchtower,
    /// Report lies; hold no key, send nothing.
    WatchOnly,
}

/// Prometheus metrics and health.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics`, `/status` and `/healthz` here (e.g. "127.0.0.1:9184"; port 0: any free
    /// port, logged at start); absent: no endpoint.
    #[serde(default)]
    pub listen: Option<String>,
    /// Failed watcher steps of the same kind in a row before the failure is reported as
    /// recurring (one alarm, `/healthz` unhealthy until a step succeeds).
    #[serde(default = "default_failure_alarm_after")]
    pub failure_alarm_after: u32,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { listen: None, failure_alarm_after: default_failure_alarm_after() }
    }
}

fn default_failure_alarm_after() -> u32 {
    crate::severity::DEFAULT_RECURRENCE_THRESHOLD
}

fn one() -> u64 {
    1
}
fn yes() -> bool {
    true
}
fn default_poll_ms() -> u64 {
    1_000
}
fn default_log_range() -> u64 {
    2_000
}
fn default_attempts() -> u32 {
    8
}
fn default_concurrency() -> usize {
    4
}

fn default_send_timeout() -> u64 {
    10
}

fn default_resubmit() -> u64 {
    24
}
fn default_bump() -> u64 {
    15
}
fn default_max_fee() -> u64 {
    500
}
fn default_tx_size() -> usize {
    128 * 1024
}
fn default_min_balance() -> u128 {
    100_000_000_000_000_000
}

/// The L2 chain's execution rules.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// The L2's chain id (EIP-155).
    pub chain_id: u64,
    /// The L1's fork schedule, whose EVM the L2 runs: one fork from genesis, or
    /// `<A>To<B>AtTime<N>`; each L2 block runs under the fork its timestamp selects.
    #[serde(default = "default_fork")]
    pub fork: String,
}

/// Where the L2 state lives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// rocksdb directory (created if missing).
    pub path: PathBuf,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default = "default_level")]
    pub level: String,
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: default_level(), format: LogFormat::default() }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Dev users of the dev genesis when `[genesis]` names neither a file nor a number.
pub const DEFAULT_DEV_USERS: usize = 16;

fn default_fork() -> String {
    crate::execute_local::forks::DEFAULT_FORK.to_string()
}

fn default_level() -> String {
    "info".to_string()
}

impl Config {
    /// A daemon on a local dev L1: `chain_id` under the default fork, state in `store`, one
    /// endpoint `rpc` for the rollup contract at `rollup`, acting one confirmation deep, and
    /// otherwise the defaults. The demo, the benches and the tests start from it and set what
    /// they need (poll interval, fee-bump period, mode).
    pub fn dev(
        chain_id: u64,
        rpc: &str,
        rollup: alloy_primitives::Address,
        store: PathBuf,
    ) -> Self {
        Self {
            chain: ChainConfig { chain_id, fork: crate::execute_local::forks::DEFAULT_FORK.into() },
            store: StoreConfig { path: store },
            l1: Some(L1Config {
                rpc: vec![rpc.to_string()],
                rollup,
                confirmations: 1,
                finalized: false,
                start_block: 0,
                poll_interval_ms: 100,
                max_log_range: 2_000,
                retry_attempts: 8,
            }),
            genesis: Default::default(),
            challenger: ChallengerConfig::default(),
            metrics: Default::default(),
            log: Default::default(),
            start: Default::default(),
        }
    }

    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    /// Parses and validates configuration text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|err| ConfigError::Parse {
            path: origin.to_path_buf(),
            message: err.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.chain.chain_id == 0 {
            return Err(ConfigError::ZeroChainId);
        }
        if let Network::Skipped { reason } = network(&self.chain.fork) {
            return Err(ConfigError::UnsupportedFork { fork: self.chain.fork.clone(), reason });
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            return Err(ConfigError::BadLogLevel { level: self.log.level.clone() });
        }
        self.genesis.source()?;
        if self.l1.as_ref().is_some_and(|l1| l1.rpc.is_empty()) {
            return Err(ConfigError::NoEndpoint);
        }
        let c = &self.challenger;
        if c.keystore.is_some() != c.password_file.is_some() {
            return Err(ConfigError::Challenger("keystore and password_file go together".into()));
        }
        if c.remote_signer.is_some() != c.remote_signer_address.is_some() {
            return Err(ConfigError::Challenger(
                "remote_signer and remote_signer_address go together".into(),
            ));
        }
        let sources = [c.key_env.is_some(), c.keystore.is_some(), c.remote_signer.is_some()];
        if sources.iter().filter(|given| **given).count() > 1 {
            return Err(ConfigError::Challenger(
                "give one key source: key_env, keystore or remote_signer".into(),
            ));
        }
        if c.fee_bump_percent < 10 {
            return Err(ConfigError::Challenger(
                "fee_bump_percent must be at least 10 (nodes refuse smaller replacements)".into(),
            ));
        }
        if c.max_concurrent_intents == 0 {
            return Err(ConfigError::Challenger(
                "max_concurrent_intents must be at least 1".into(),
            ));
        }
        if c.send_timeout_secs == 0 {
            return Err(ConfigError::Challenger("send_timeout_secs must be at least 1".into()));
        }
        if let Some(listen) = &self.metrics.listen {
            listen
                .parse::<std::net::SocketAddr>()
                .map_err(|_| ConfigError::BadListen { value: listen.clone() })?;
        }
        Ok(())
    }

    /// The `[l1]` section, required by commands that talk to L1.
    pub fn l1(&self) -> Result<&L1Config, ConfigError> {
        self.l1.as_ref().ok_or(ConfigError::MissingSection("l1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn genesis_is_a_file_or_the_dev_genesis() {
        let base = "[chain]\nchain_id = 5\n[store]\npath = \"x\"\n";
        let source = |extra: &str| parse(&format!("{base}{extra}")).map(|c| c.genesis.source());
        assert_eq!(source("").expect("parses").expect("dev"), GenesisSource::Dev { users: 16 });
        let users = source("[genesis]\ndev_users = 3\n").expect("parses").expect("dev");
        assert_eq!(users, GenesisSource::Dev { users: 3 });
        let file = source("[genesis]\nfile = \"g.json\"\n").expect("parses").expect("file");
        assert_eq!(file, GenesisSource::File(PathBuf::from("g.json")));
        let both = source("[genesis]\nfile = \"g.json\"\ndev_users = 3\n");
        assert!(matches!(both, Err(ConfigError::Genesis)), "{both:?}");
    }

    #[test]
    fn checked_in_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
        let config = Config::load(&path).expect("config.toml must parse");
        assert_eq!(config.chain.fork, crate::execute_local::forks::DEFAULT_FORK);
        assert_ne!(config.chain.chain_id, 0);
    }

    #[test]
    fn daemon_sections_parse_with_defaults_and_reject_contradictions() {
        let base = "[chain]\nchain_id = 5\n[store]\npath = \"x\"\n";
        let l1 = "[l1]\nrpc = [\"http://127.0.0.1:8545\"]\nrollup = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\n";
        let config = parse(&format!("{base}{l1}")).expect("parses");
        assert_eq!(config.challenger.mode, Mode::Challenge);
        assert_eq!(config.challenger.max_tx_size, 128 * 1024);
        assert_eq!(config.l1().expect("l1").confirmations, 1);
        assert!(matches!(parse(base).expect("no l1").l1(), Err(ConfigError::MissingSection("l1"))));
        let watch =
            parse(&format!("{base}{l1}[challenger]\nmode = \"watch-only\"\n")).expect("parses");
        assert_eq!(watch.challenger.mode, Mode::WatchOnly);
        let half = format!("{base}[challenger]\nkeystore = \"k.json\"\n");
        assert!(matches!(parse(&half), Err(ConfigError::Challenger(_))));
        let remote = "remote_signer = \"http://127.0.0.1:9000\"\n";
        let address = "remote_signer_address = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\n";
        let signer = parse(&format!("{base}[challenger]\n{remote}{address}")).expect("remote");
        assert_eq!(signer.challenger.remote_signer.as_deref(), Some("http://127.0.0.1:9000"));
        let err = parse(&format!("{base}[challenger]\n{remote}")).expect_err("no address");
        assert!(err.to_string().contains("go together"), "{err}");
        let two = format!("{base}[challenger]\nkey_env = \"K\"\n{remote}{address}");
        let err = parse(&two).expect_err("two sources");
        assert!(err.to_string().contains("one key source"), "{err}");
        let bad = format!("{base}[challenger]\n{remote}remote_signer_address = \"0x12\"\n");
        assert!(parse(&bad).is_err(), "a malformed address");
        let bump = format!("{base}[challenger]\nfee_bump_percent = 5\n");
        assert!(matches!(parse(&bump), Err(ConfigError::Challenger(_))));
        let empty = format!(
            "{base}[l1]\nrpc = []\nrollup = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\n"
        );
        assert!(matches!(parse(&empty), Err(ConfigError::NoEndpoint)));
        let listen = format!("{base}[metrics]\nlisten = \"everywhere\"\n");
        assert!(matches!(parse(&listen), Err(ConfigError::BadListen { .. })));
        assert!(
            parse(&format!("{base}[challenger]\nkey = \"0xabc\"\n")).is_err(),
            "secrets are not config keys"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = parse("[chain]\nchain_id = 1\ncolour = 2\n[store]\npath = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let err = parse("[chain]\nchain_id = 1\n[store]\npath = \"x\"\n[extra]\n").unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
    }

    #[test]
    fn bad_values_get_typed_errors() {
        let base = "[store]\npath = \"x\"\n";
        assert!(matches!(
            parse(&format!("[chain]\nchain_id = 0\n{base}")),
            Err(ConfigError::ZeroChainId)
        ));
        assert!(matches!(
            parse(&format!("[chain]\nchain_id = 5\nfork = \"London\"\n{base}")),
            Err(ConfigError::UnsupportedFork { .. })
        ));
        assert!(matches!(
            parse(&format!("[chain]\nchain_id = 5\n{base}[log]\nlevel = \"loud\"\n")),
            Err(ConfigError::BadLogLevel { .. })
        ));
        assert!(matches!(parse("[chain]\nchain_id = \"five\"\n"), Err(ConfigError::Parse { .. })));
    }
}
