//! The L2 genesis both the proposer and the challenger start from, and the dev users it funds.
//!
//! Input: a chain id, a timestamp and an allocation: the dev genesis built here, or a geth
//! genesis file ([`super::genesis_file`]). Output: the genesis state root the rollup contract is
//! deployed with, and a store initialised at block 0. Everyone who replays the L2 must use the
//! same allocation, or their roots differ from the first block on. The genesis header commits
//! to the state root only; the timestamp lives in the contract's batch 0.

use super::genesis_file::{GenesisFileError, GethGenesis};
use crate::execute_local::chunk::Sealed;
use crate::execute_local::l2::{GenesisError, l2_genesis, l2_system_contracts};
use crate::execute_local::replay::{GenesisAccount, GenesisState};
use crate::execute_local::store::{Head, StateStore, StoreError};
use crate::protocol::L2Header;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256, utils::parse_ether};
use alloy_signer_local::PrivateKeySigner;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the dev genesis places the storage-writer contract the workload calls.
pub const STORAGE_WRITER_ADDRESS: Address = Address::new([0x5a; 20]);

/// Writes `value` into `count` consecutive slots from `start` (calldata: start, count, value).
/// A zero value deletes the slots.
pub const STORAGE_WRITER: &[u8] = &[
    0x60, 0x00, 0x35, // start
    0x60, 0x20, 0x35, // count, start
    0x60, 0x40, 0x35, // value, count, start
    0x5b, // 0x09 loop:
    0x81, 0x15, 0x60, 0x21, 0x57, // if count == 0 goto end
    0x80, 0x83, 0x55, // sstore(start, value)
    0x90, 0x60, 0x01, 0x90, 0x03, // count - 1
    0x90, // value, count-1, start
    0x82, 0x60, 0x01, 0x01, // start+1, value, count-1, start
    0x92, 0x50, // value, count-1, start+1
    0x60, 0x09, 0x56, // goto loop
    0x5b, 0x00, // 0x21 end: stop
];

/// Where an L2 genesis comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenesisSource {
    /// The dev genesis with this many dev users ([`L2Genesis::dev`]).
    Dev { users: usize },
    /// A geth genesis file ([`L2Genesis::load`]).
    File(PathBuf),
}

impl GenesisSource {
    /// The genesis of `chain_id` from this source, as a rollup deployed over it records it in
    /// its batch 0 (`timestamp`, `state_root`); an error says why it is not that genesis, with
    /// both values.
    pub fn matching(
        &self,
        chain_id: u64,
        timestamp: u64,
        state_root: B256,
    ) -> Result<L2Genesis, String> {
        match self {
            Self::Dev { users } => {
                let addresses: Vec<Address> =
                    dev_users(*users).iter().map(|u| u.address()).collect();
                L2Genesis::dev_matching(chain_id, &addresses, timestamp, state_root)
            }
            Self::File(path) => {
                let mut genesis = L2Genesis::load(path, chain_id).map_err(|e| e.to_string())?;
                if genesis.timestamp != 0 && genesis.timestamp != timestamp {
                    return Err(format!(
                        "{}: timestamp {} is not the contract's genesis timestamp {timestamp}",
                        path.display(),
                        genesis.timestamp
                    ));
                }
                let (_, header) = genesis.build().map_err(|e| e.to_string())?;
                if header.state_root != state_root {
                    return Err(format!(
                        "the contract's genesis root {state_root} is not the root of {} ({})",
                        path.display(),
                        header.state_root
                    ));
                }
                genesis.timestamp = timestamp;
                Ok(genesis)
            }
        }
    }

    /// The genesis to deploy a rollup over; `now` is its timestamp unless the file fixes one.
    pub fn for_deploy(&self, chain_id: u64, now: u64) -> Result<L2Genesis, String> {
        match self {
            Self::Dev { users } => {
                let addresses: Vec<Address> =
                    dev_users(*users).iter().map(|u| u.address()).collect();
                Ok(L2Genesis::dev(chain_id, now, &addresses))
            }
            Self::File(path) => {
                let mut genesis = L2Genesis::load(path, chain_id).map_err(|e| e.to_string())?;
                if genesis.timestamp == 0 {
                    genesis.timestamp = now;
                }
                Ok(genesis)
            }
        }
    }
}

/// Why a genesis file cannot be the L2 genesis.
#[derive(Debug, thiserror::Error)]
pub enum GenesisLoadError {
    #[error("{path}: {error}")]
    File { path: PathBuf, error: GenesisFileError },
    #[error("{path}: config.chainId {found} is not the L2 chain id {expected}")]
    ChainId { path: PathBuf, found: u64, expected: u64 },
    #[error(
        "{path}: alloc {address}: a system contract address; the genesis builder places it \
         (nonce 1, no balance, no storage, its mainnet code) and this entry differs in {field}"
    )]
    SystemContract { path: PathBuf, address: Address, field: &'static str },
    #[error("{path}: {error}")]
    Genesis { path: PathBuf, error: GenesisError },
}

/// What a genesis allocation holds besides the system contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenesisCounts {
    pub accounts: usize,
    /// Accounts with code.
    pub contracts: usize,
    /// Non-zero storage slots.
    pub slots: usize,
}

/// An L2 genesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2Genesis {
    pub chain_id: u64,
    pub timestamp: u64,
    /// Accounts besides the system contracts (which `l2_genesis` adds).
    pub alloc: BTreeMap<Address, GenesisAccount>,
}

/// Why a store could not be initialised.
#[derive(Debug, thiserror::Error)]
pub enum GenesisInitError {
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store holds another chain: its block 0 is {found}, this genesis is {expected}")]
    OtherChain { found: B256, expected: B256 },
}

impl L2Genesis {
    /// The dev genesis: `users` funded with 1,000 ETH each, and the storage writer.
    pub fn dev(chain_id: u64, timestamp: u64, users: &[Address]) -> Self {
        let balance = parse_ether("1000").unwrap_or(U256::MAX);
        let mut alloc: BTreeMap<Address, GenesisAccount> = users
            .iter()
            .map(|user| (*user, GenesisAccount { balance, ..Default::default() }))
            .collect();
        alloc.insert(
            STORAGE_WRITER_ADDRESS,
            GenesisAccount {
                nonce: 1,
                code: Bytes::from_static(STORAGE_WRITER),
                ..Default::default()
            },
        );
        Self { chain_id, timestamp, alloc }
    }

    /// The dev genesis plus the contracts of the proposer's hostile workloads
    /// ([`crate::proposer::hostile`]: sweepers, a 3,000-slot storage trie, maximum-size codes)
    /// and `background` funded accounts that give the account trie realistic depth. The demo
    /// and the hostile-block tests run over it, as a genesis file.
    pub fn dev_hostile(chain_id: u64, users: &[Address], background: u64) -> Self {
        let mut genesis = Self::dev(chain_id, 0, users);
        genesis.alloc.extend(crate::proposer::hostile::genesis_accounts());
        for i in 0..background {
            let address = Address::from_word(keccak256(i.to_be_bytes()));
            let account = GenesisAccount { balance: U256::from(1 + i), ..Default::default() };
            genesis.alloc.insert(address, account);
        }
        genesis
    }

    /// The dev genesis of `chain_id` over `users`, as a rollup deployed over it records it in
    /// its batch 0 (`timestamp`, `state_root`); an error says why it is not that genesis.
    pub fn dev_matching(
        chain_id: u64,
        users: &[Address],
        timestamp: u64,
        state_root: B256,
    ) -> Result<Self, String> {
        let genesis = Self::dev(chain_id, timestamp, users);
        let (_, header) = genesis.build().map_err(|e| e.to_string())?;
        if header.state_root != state_root {
            return Err(format!(
                "the contract's genesis root {state_root} is not the dev genesis of chain {chain_id} with {} users ({})",
                users.len(),
                header.state_root
            ));
        }
        Ok(genesis)
    }

    /// The genesis in the geth file at `path` for `chain_id` (its `config.chainId`, if given,
    /// must be it). The timestamp is the file's (0 when it has none). An entry at a system
    /// contract address is accepted only if it is exactly what the builder places there.
    pub fn load(path: &Path, chain_id: u64) -> Result<Self, GenesisLoadError> {
        let file = |error| GenesisLoadError::File { path: path.to_path_buf(), error };
        let geth = GethGenesis::load(path).map_err(file)?;
        if let Some(found) = geth.chain_id.filter(|id| *id != chain_id) {
            let path = path.to_path_buf();
            return Err(GenesisLoadError::ChainId { path, found, expected: chain_id });
        }
        let mut alloc = geth.alloc;
        // A zero slot is no state: geth writes nothing for it, and neither does the builder.
        for account in alloc.values_mut() {
            account.storage.retain(|_, value| !value.is_zero());
        }
        for (address, code) in l2_system_contracts() {
            let Some(account) = alloc.remove(&address) else { continue };
            let field = if account.nonce != 1 {
                Some("nonce")
            } else if !account.balance.is_zero() {
                Some("balance")
            } else if account.code != code {
                Some("code")
            } else if !account.storage.is_empty() {
                Some("storage")
            } else {
                None
            };
            if let Some(field) = field {
                let path = path.to_path_buf();
                return Err(GenesisLoadError::SystemContract { path, address, field });
            }
        }
        let refused =
            alloc.iter().find(|(_, a)| !a.storage.is_empty() && a.code.is_empty() && a.nonce == 0);
        if let Some((address, _)) = refused {
            let error = GenesisError::StorageWithoutCode { address: *address };
            return Err(GenesisLoadError::Genesis { path: path.to_path_buf(), error });
        }
        Ok(Self { chain_id, timestamp: geth.timestamp, alloc })
    }

    /// The genesis as a geth genesis file (quantities in hex, checksummed addresses, fields
    /// at zero left out; the system contracts are not written, the builder adds them).
    pub fn to_geth_json(&self) -> serde_json::Value {
        use serde_json::{Map, Value, json};
        let alloc: Map<String, Value> = self
            .alloc
            .iter()
            .map(|(address, account)| {
                let mut entry = Map::new();
                entry.insert("balance".into(), json!(format!("0x{:x}", account.balance)));
                if account.nonce != 0 {
                    entry.insert("nonce".into(), json!(format!("{:#x}", account.nonce)));
                }
                if !account.code.is_empty() {
                    entry.insert("code".into(), json!(account.code.to_string()));
                }
                if !account.storage.is_empty() {
                    let storage: Map<String, Value> = account
                        .storage
                        .iter()
                        .map(|(k, v)| (B256::from(*k).to_string(), json!(B256::from(*v))))
                        .collect();
                    entry.insert("storage".into(), Value::Object(storage));
                }
                (address.to_checksum(None), Value::Object(entry))
            })
            .collect();
        json!({
            "config": {"chainId": self.chain_id},
            "timestamp": format!("{:#x}", self.timestamp),
            "alloc": alloc,
        })
    }

    /// What the allocation holds (system contracts not counted).
    pub fn counts(&self) -> GenesisCounts {
        GenesisCounts {
            accounts: self.alloc.len(),
            contracts: self.alloc.values().filter(|a| !a.code.is_empty()).count(),
            slots: self
                .alloc
                .values()
                .map(|a| a.storage.values().filter(|v| !v.is_zero()).count())
                .sum(),
        }
    }

    /// The genesis state and header.
    pub fn build(&self) -> Result<(GenesisState, L2Header), GenesisError> {
        l2_genesis(&self.alloc)
    }

    /// Writes the genesis into an empty store; accepts a store already at this genesis.
    pub fn init_store(&self, store: &StateStore) -> Result<Head, GenesisInitError> {
        let (state, header) = self.build()?;
        let expected = header.block_hash();
        if let Some(head) = store.head()? {
            let found = store.block_hash(0)?.unwrap_or_default();
            if found != expected {
                return Err(GenesisInitError::OtherChain { found, expected });
            }
            return Ok(head);
        }
        let sealed = Sealed { hash: expected, header: Bytes::copy_from_slice(&header.encode()) };
        Ok(state.write(store, 0, &sealed)?)
    }
}

/// The dev L2 users: deterministic keys, the same in every process that asks for `count`.
pub fn dev_users(count: usize) -> Vec<PrivateKeySigner> {
    (0..count as u64)
        .filter_map(|i| {
            let seed =
                keccak256([b"native-challenger dev L2 user".as_slice(), &i.to_be_bytes()].concat());
            PrivateKeySigner::from_bytes(&seed).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    const CHAIN: u64 = 901;

    fn write(dir: &tempfile::TempDir, genesis: &Value) -> PathBuf {
        let path = dir.path().join("genesis.json");
        std::fs::write(&path, serde_json::to_vec(genesis).expect("json")).expect("write");
        path
    }

    /// The dev genesis spelled as a geth file, by hand.
    fn dev_file(users: &[Address]) -> Value {
        let mut alloc = Map::new();
        for user in users {
            alloc.insert(format!("{user:x}"), json!({"balance": "1000000000000000000000"}));
        }
        alloc.insert(
            STORAGE_WRITER_ADDRESS.to_checksum(None),
            json!({"nonce": "0x1", "balance": "0x0", "code": hex::encode(STORAGE_WRITER)}),
        );
        json!({"config": {"chainId": CHAIN}, "timestamp": "0x0", "alloc": alloc})
    }

    fn users() -> Vec<Address> {
        dev_users(4).iter().map(|u| u.address()).collect()
    }

    #[test]
    fn the_dev_genesis_as_a_file_has_the_same_root() {
        let dir = tempfile::tempdir().expect("dir");
        let path = write(&dir, &dev_file(&users()));
        let from_file = L2Genesis::load(&path, CHAIN).expect("loads");
        let built = L2Genesis::dev(CHAIN, 0, &users());
        assert_eq!(from_file, built);
        let root = |g: &L2Genesis| g.build().expect("builds").1.state_root;
        assert_eq!(root(&from_file), root(&built));
        let counts = from_file.counts();
        assert_eq!((counts.accounts, counts.contracts, counts.slots), (5, 1, 0));
        // One more wei anywhere is another root.
        let mut richer = dev_file(&users());
        richer["alloc"][format!("{:x}", users()[0])]["balance"] = json!("1000000000000000000001");
        let path = write(&dir, &richer);
        assert_ne!(root(&L2Genesis::load(&path, CHAIN).expect("loads")), root(&built));
    }

    #[test]
    fn the_committed_dev_genesis_file_is_the_dev_genesis() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("genesis/dev.json");
        let users: Vec<Address> = dev_users(16).iter().map(|u| u.address()).collect();
        let built = L2Genesis::dev(CHAIN, 0, &users);
        assert_eq!(L2Genesis::load(&path, CHAIN).expect("genesis/dev.json loads"), built);
        // And what `genesis --write-dev` writes reads back as what was written.
        let dir = tempfile::tempdir().expect("dir");
        let mut other = L2Genesis::dev(7, 9, &users[..3]);
        other.alloc.entry(users[0]).or_default().storage.insert(U256::from(3), U256::MAX);
        other.alloc.entry(users[0]).or_default().nonce = 5;
        let path = write(&dir, &other.to_geth_json());
        assert_eq!(L2Genesis::load(&path, 7).expect("loads"), other);
    }

    #[test]
    fn matching_checks_root_and_timestamp_against_batch_zero() {
        let dir = tempfile::tempdir().expect("dir");
        let path = write(&dir, &dev_file(&users()));
        let source = GenesisSource::File(path.clone());
        let root = L2Genesis::dev(CHAIN, 0, &users()).build().expect("builds").1.state_root;
        let genesis = source.matching(CHAIN, 1_700_000_000, root).expect("matches");
        assert_eq!(genesis.timestamp, 1_700_000_000);
        let other = B256::repeat_byte(7);
        let err = source.matching(CHAIN, 1_700_000_000, other).expect_err("other root");
        assert!(err.contains(&other.to_string()) && err.contains(&root.to_string()), "{err}");
        let mut fixed = dev_file(&users());
        fixed["timestamp"] = json!(1_700_000_005u64);
        write(&dir, &fixed);
        assert_eq!(
            source.matching(CHAIN, 1_700_000_005, root).expect("same").timestamp,
            1_700_000_005
        );
        let err = source.matching(CHAIN, 1_700_000_000, root).expect_err("other timestamp");
        assert!(err.contains("1700000005") && err.contains("1700000000"), "{err}");
        assert_eq!(source.for_deploy(CHAIN, 5).expect("deploy").timestamp, 1_700_000_005);
        write(&dir, &dev_file(&users()));
        assert_eq!(source.for_deploy(CHAIN, 5).expect("deploy").timestamp, 5);
    }

    #[test]
    fn refuses_what_the_l2_cannot_start_from() {
        let dir = tempfile::tempdir().expect("dir");
        let mut other_chain = dev_file(&users());
        other_chain["config"]["chainId"] = json!(5);
        let path = write(&dir, &other_chain);
        let err = L2Genesis::load(&path, CHAIN).expect_err("chain id").to_string();
        assert!(err.contains("chainId 5") && err.contains("901"), "{err}");

        let [(beacon, code), ..] = l2_system_contracts();
        let entry = |account: Value| {
            let mut file = dev_file(&users());
            file["alloc"][format!("{beacon:x}")] = account;
            write(&dir, &file)
        };
        let code_hex = hex::encode(&code);
        let exact = entry(json!({"nonce": "0x1", "balance": "0x0", "code": code_hex}));
        let with_copy = L2Genesis::load(&exact, CHAIN).expect("an exact copy is accepted");
        assert_eq!(with_copy, L2Genesis::dev(CHAIN, 0, &users()));
        for (account, field) in [
            (json!({"nonce": "0x1", "code": "0x00"}), "code"),
            (json!({"nonce": "0x1", "balance": "0x1", "code": code_hex}), "balance"),
            (json!({"nonce": "0x0", "code": code_hex}), "nonce"),
            (json!({"nonce": "0x1", "code": code_hex, "storage": {"0x1": "0x1"}}), "storage"),
            (json!({"balance": "0x5"}), "nonce"),
        ] {
            let err = L2Genesis::load(&entry(account), CHAIN).expect_err("refused").to_string();
            assert!(err.contains(&beacon.to_string()) && err.ends_with(field), "{err}");
        }

        let mut storage_only = dev_file(&users());
        storage_only["alloc"]["0x00000000000000000000000000000000000000ee"] =
            json!({"balance": "0x1", "storage": {"0x1": "0x1"}});
        let err = L2Genesis::load(&write(&dir, &storage_only), CHAIN).expect_err("7610");
        assert!(matches!(err, GenesisLoadError::Genesis { .. }), "{err}");
        // A zero slot is no state, so it is no storage either.
        storage_only["alloc"]["0x00000000000000000000000000000000000000ee"]["storage"] =
            json!({"0x1": "0x0"});
        let loaded = L2Genesis::load(&write(&dir, &storage_only), CHAIN).expect("zero slot");
        assert_eq!(loaded.counts().slots, 0);

        let missing = dir.path().join("absent.json");
        let err = L2Genesis::load(&missing, CHAIN).expect_err("absent").to_string();
        assert!(err.contains("absent.json"), "{err}");
    }
}
