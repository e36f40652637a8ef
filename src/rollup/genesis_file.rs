//! Genesis files in geth's JSON format.
//!
//! Input: the text of a geth `genesis.json`: `alloc` (address -> `balance`, `nonce`, `code`,
//! `storage`), `config.chainId`, `timestamp`, `number`; every other top-level field (gasLimit,
//! extraData, difficulty, ...) is accepted and ignored. Output: a [`GethGenesis`], its
//! allocation keyed by address. Quantities are `0x` hex or decimal strings (or JSON integers
//! up to 2^64 - 1); addresses take an optional `0x` and, when mixed-case, must carry a valid
//! EIP-55 checksum; storage keys and values are hex words of at most 32 bytes. Anything else is
//! refused with the account and field at fault; no value is silently dropped or truncated
//! (two spellings of one address or one slot are refused, not merged). Cost: O(n log n) in the
//! number of accounts and slots.

use crate::execute_local::replay::GenesisAccount;
use alloy_primitives::{Address, Bytes, U256};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A parsed geth genesis file: what of it the L2 uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GethGenesis {
    /// `config.chainId`, when given.
    pub chain_id: Option<u64>,
    /// `timestamp`; 0 when absent.
    pub timestamp: u64,
    pub alloc: BTreeMap<Address, GenesisAccount>,
}

/// Why a genesis file was refused.
#[derive(Debug, thiserror::Error)]
pub enum GenesisFileError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("not a genesis JSON: {0}")]
    Json(String),
    #[error("{at}: {reason}")]
    Invalid { at: String, reason: String },
}

impl GenesisFileError {
    fn invalid(at: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { at: at.into(), reason: reason.into() }
    }
}

impl GethGenesis {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Self, GenesisFileError> {
        let text = std::fs::read(path)
            .map_err(|source| GenesisFileError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text)
    }

    /// Parses the text of a genesis file.
    pub fn parse(text: &[u8]) -> Result<Self, GenesisFileError> {
        let raw: RawGenesis =
            serde_json::from_slice(text).map_err(|e| GenesisFileError::Json(e.to_string()))?;
        let chain_id = match raw.config {
            None | Some(Value::Null) => None,
            Some(Value::Object(config)) => match config.get("chainId") {
                None | Some(Value::Null) => None,
                Some(value) => Some(
                    quantity_u64(value)
                        .map_err(|r| GenesisFileError::invalid("config.chainId", r))?,
                ),
            },
            Some(_) => return Err(GenesisFileError::invalid("config", "not an object")),
        };
        let timestamp = match &raw.timestamp {
            None | Some(Value::Null) => 0,
            Some(value) => {
                quantity_u64(value).map_err(|r| GenesisFileError::invalid("timestamp", r))?
            }
        };
        if let Some(value) = raw.number.as_ref().filter(|v| !v.is_null()) {
            let number = quantity_u64(value).map_err(|r| GenesisFileError::invalid("number", r))?;
            if number != 0 {
                return Err(GenesisFileError::invalid(
                    "number",
                    format!("{number}: the L2 genesis is block 0"),
                ));
            }
        }
        let mut alloc = BTreeMap::new();
        let mut spellings: BTreeMap<Address, String> = BTreeMap::new();
        for (key, raw) in raw.alloc.0 {
            let at = format!("alloc[{key:?}]");
            let address = parse_address(&key).map_err(|r| GenesisFileError::invalid(&at, r))?;
            let account = raw.account(&at)?;
            if let Some(first) = spellings.insert(address, key.clone()) {
                return Err(GenesisFileError::invalid(
                    at,
                    format!("the same address {address} as alloc[{first:?}]"),
                ));
            }
            alloc.insert(address, account);
        }
        Ok(Self { chain_id, timestamp, alloc })
    }
}

/// The top level of the file; unknown fields are accepted and ignored.
#[derive(Deserialize)]
struct RawGenesis {
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    timestamp: Option<Value>,
    #[serde(default)]
    number: Option<Value>,
    alloc: Entries<RawAccount>,
}

/// One `alloc` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    #[serde(default)]
    balance: Option<Value>,
    #[serde(default)]
    nonce: Option<Value>,
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    storage: Option<Entries<Value>>,
    /// geth's dev-only field; no part of the state.
    #[serde(default, rename = "secretKey")]
    _secret_key: Option<Value>,
}

impl RawAccount {
    fn account(self, at: &str) -> Result<GenesisAccount, GenesisFileError> {
        let field = |name: &str, r: String| GenesisFileError::invalid(format!("{at}.{name}"), r);
        let balance = match self.balance.as_ref().filter(|v| !v.is_null()) {
            None => U256::ZERO,
            Some(value) => quantity_u256(value).map_err(|r| field("balance", r))?,
        };
        let nonce = match self.nonce.as_ref().filter(|v| !v.is_null()) {
            None => 0,
            Some(value) => quantity_u64(value).map_err(|r| field("nonce", r))?,
        };
        let code = match self.code.as_ref().filter(|v| !v.is_null()) {
            None => Bytes::new(),
            Some(Value::String(text)) => hex_bytes(text).map_err(|r| field("code", r))?,
            Some(_) => return Err(field("code", "not a hex string".into())),
        };
        let mut storage = BTreeMap::new();
        let mut spellings: BTreeMap<U256, String> = BTreeMap::new();
        for (key, value) in self.storage.map(|s| s.0).unwrap_or_default() {
            let slot_at = format!("storage[{key:?}]");
            let slot = hex_word(&key).map_err(|r| field(&slot_at, format!("key: {r}")))?;
            let value = match &value {
                Value::String(text) => hex_word(text),
                _ => Err("not a hex string".to_string()),
            }
            .map_err(|r| field(&slot_at, format!("value: {r}")))?;
            if let Some(first) = spellings.insert(slot, key.clone()) {
                return Err(field(&slot_at, format!("the same slot as storage[{first:?}]")));
            }
            storage.insert(slot, value);
        }
        Ok(GenesisAccount { nonce, balance, code, storage })
    }
}

/// A JSON object's entries in order, duplicates kept (a map would keep only the last one).
struct Entries<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

struct EntriesVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for EntriesVisitor<T> {
    type Value = Entries<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Named::<T>(&key, std::marker::PhantomData))?;
            entries.push((key, value));
        }
        Ok(Entries(entries))
    }
}

/// Deserializes one entry's value, naming its key in any error.
struct Named<'a, T>(&'a str, std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Named<'_, T> {
    type Value = T;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        T::deserialize(deserializer).map_err(|e| de::Error::custom(format!("{:?}: {e}", self.0)))
    }
}

/// An address: 40 hex digits, `0x` optional; mixed case must be a valid EIP-55 checksum.
pub fn parse_address(text: &str) -> Result<Address, String> {
    let digits = strip_0x(text);
    if digits.len() != 40 {
        return Err(format!("an address has 40 hex digits, this has {}", digits.len()));
    }
    let mut bytes = [0u8; 20];
    hex::decode_to_slice(digits, &mut bytes).map_err(|e| format!("not hex: {e}"))?;
    let address = Address::from(bytes);
    let mixed = digits.bytes().any(|b| b.is_ascii_lowercase())
        && digits.bytes().any(|b| b.is_ascii_uppercase());
    if mixed && address.to_checksum(None)[2..] != *digits {
        return Err(format!(
            "mixed-case address with a wrong EIP-55 checksum (expected {})",
            address.to_checksum(None)
        ));
    }
    Ok(address)
}

/// A 256-bit quantity: `0x` hex (up to 64 digits), decimal, or a JSON integer.
fn quantity_u256(value: &Value) -> Result<U256, String> {
    match value {
        Value::String(text) => {
            if let Some(digits) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                if digits.is_empty() {
                    return Err(format!("{text:?} has no digits"));
                }
                if digits.len() > 64 {
                    return Err(format!("{text:?} exceeds 256 bits"));
                }
                hex_u256(digits).map_err(|e| format!("{text:?}: {e}"))
            } else {
                if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("{text:?} is neither 0x-hex nor decimal"));
                }
                U256::from_str_radix(text, 10).map_err(|_| format!("{text:?} exceeds 256 bits"))
            }
        }
        Value::Number(number) => number.as_u64().map(U256::from).ok_or_else(|| {
            format!("{number} is not an integer up to 2^64 - 1 (write larger values as strings)")
        }),
        _ => Err("not a quantity (a hex or decimal string)".into()),
    }
}

/// A 64-bit quantity, spelled as [`quantity_u256`].
fn quantity_u64(value: &Value) -> Result<u64, String> {
    let wide = quantity_u256(value)?;
    u64::try_from(wide).map_err(|_| format!("{wide} exceeds 2^64 - 1"))
}

/// Bytes in hex, `0x` optional, an even number of digits.
fn hex_bytes(text: &str) -> Result<Bytes, String> {
    hex::decode(strip_0x(text)).map(Bytes::from).map_err(|e| format!("not hex: {e}"))
}

/// A storage word: 1 to 64 hex digits, `0x` optional, left-padded to 32 bytes.
fn hex_word(text: &str) -> Result<U256, String> {
    let digits = strip_0x(text);
    if digits.is_empty() {
        return Err(format!("{text:?} has no digits"));
    }
    if digits.len() > 64 {
        return Err(format!("{text:?} is longer than 32 bytes"));
    }
    hex_u256(digits).map_err(|e| format!("{text:?}: {e}"))
}

/// At most 64 hex digits as a number (no sign, no separators).
fn hex_u256(digits: &str) -> Result<U256, String> {
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("{bad:?} is not a hex digit"));
    }
    U256::from_str_radix(digits, 16).map_err(|e| e.to_string())
}

fn strip_0x(text: &str) -> &str {
    text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    fn parse(text: &str) -> Result<GethGenesis, GenesisFileError> {
        GethGenesis::parse(text.as_bytes())
    }

    /// The error text of a refused file, which must name `at`.
    fn refused(text: &str, at: &str) -> String {
        let err = parse(text).expect_err("refused").to_string();
        assert!(err.contains(at), "{err:?} does not name {at:?}");
        err
    }

    fn with_account(account: &str) -> String {
        format!(r#"{{"alloc": {{"0x00000000000000000000000000000000000000aa": {account}}}}}"#)
    }

    const AA: Address = address!("0x00000000000000000000000000000000000000aa");

    #[test]
    fn accepts_the_usual_spellings() {
        let text = r#"{
            "config": {"chainId": 901, "cancunTime": 0, "terminalTotalDifficulty": 0},
            "nonce": "0x0", "timestamp": "0x65", "gasLimit": "0x1c9c380", "difficulty": "0x1",
            "extraData": "0x", "coinbase": "0x0000000000000000000000000000000000000000",
            "number": "0x0", "baseFeePerGas": null,
            "alloc": {
                "00000000000000000000000000000000000000aa": {"balance": "1000000000000000000"},
                "0x00000000000000000000000000000000000000BB": {"balance": "0xde0b6b3a7640000", "nonce": 7},
                "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed": {"balance": "0", "nonce": "0x1",
                    "code": "6001600055",
                    "storage": {"0x1": "0x2a", "0000000000000000000000000000000000000000000000000000000000000002": "ff"}},
                "0x00000000000000000000000000000000000000cc": {"balance": "0x0", "secretKey": "0x01"}
            }
        }"#;
        let genesis = parse(text).expect("parses");
        assert_eq!(genesis.chain_id, Some(901));
        assert_eq!(genesis.timestamp, 101);
        assert_eq!(genesis.alloc.len(), 4);
        let ether = U256::from(10u64).pow(U256::from(18));
        assert_eq!(genesis.alloc[&AA].balance, ether);
        let bb = &genesis.alloc[&address!("0x00000000000000000000000000000000000000bb")];
        assert_eq!((bb.balance, bb.nonce), (ether, 7));
        let contract = &genesis.alloc[&address!("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")];
        assert_eq!(contract.code.as_ref(), &[0x60, 0x01, 0x60, 0x00, 0x55]);
        assert_eq!(contract.nonce, 1);
        let storage: Vec<(U256, U256)> = contract.storage.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(
            storage,
            vec![(U256::from(1), U256::from(42)), (U256::from(2), U256::from(255))]
        );
    }

    #[test]
    fn absent_fields_are_zero() {
        let genesis = parse(r#"{"alloc": {"0x00000000000000000000000000000000000000aa": {}}}"#)
            .expect("parses");
        assert_eq!((genesis.chain_id, genesis.timestamp), (None, 0));
        assert_eq!(genesis.alloc[&AA], GenesisAccount::default());
        let max = format!(r#"{{"balance": "0x{}"}}"#, "f".repeat(64));
        assert_eq!(parse(&with_account(&max)).expect("max").alloc[&AA].balance, U256::MAX);
    }

    #[test]
    fn refuses_bad_quantities_naming_account_and_field() {
        let at = r#"alloc["0x00000000000000000000000000000000000000aa"]"#;
        refused(&with_account(r#"{"balance": "0xzz"}"#), &format!("{at}.balance"));
        refused(&with_account(r#"{"balance": "0x"}"#), &format!("{at}.balance"));
        refused(&with_account(r#"{"balance": "-1"}"#), &format!("{at}.balance"));
        refused(&with_account(r#"{"balance": "1_000"}"#), &format!("{at}.balance"));
        refused(&with_account(r#"{"balance": 1.5}"#), &format!("{at}.balance"));
        refused(&with_account(r#"{"balance": true}"#), &format!("{at}.balance"));
        let wide = format!(r#"{{"balance": "0x1{}"}}"#, "0".repeat(64));
        assert!(refused(&with_account(&wide), ".balance").contains("256 bits"));
        let decimal = format!(r#"{{"balance": "{}0"}}"#, U256::MAX);
        assert!(refused(&with_account(&decimal), ".balance").contains("256 bits"));
        let nonce = r#"{"nonce": "0x10000000000000000"}"#;
        refused(&with_account(nonce), &format!("{at}.nonce"));
        refused(&with_account(r#"{"code": "0x600"}"#), &format!("{at}.code"));
        refused(&with_account(r#"{"code": 96}"#), &format!("{at}.code"));
        refused(&with_account(r#"{"balance": "0x1", "balanse": "0x2"}"#), "balanse");
        refused(&with_account(r#"{"balance": "0x1", "balance": "0x2"}"#), "balance");
    }

    #[test]
    fn refuses_bad_storage() {
        let slot = |key: &str, value: &str| {
            with_account(&format!(r#"{{"code": "0x00", "storage": {{{key}: {value}}}}}"#))
        };
        refused(&slot(r#""0x1""#, r#""0xg""#), r#"storage["0x1"]"#);
        refused(&slot(r#""0x1""#, "1"), r#"storage["0x1"]"#);
        refused(&slot(r#""0x""#, r#""0x1""#), r#"storage["0x"]"#);
        let long = format!(r#""0x1{}""#, "0".repeat(64));
        assert!(refused(&slot(&long, r#""0x1""#), "storage").contains("32 bytes"));
        assert!(refused(&slot(r#""0x1""#, &long), "storage").contains("32 bytes"));
        let twice = with_account(
            r#"{"code": "0x00", "storage": {"0x1": "0x5", "0x0000000000000000000000000000000000000000000000000000000000000001": "0x6"}}"#,
        );
        assert!(refused(&twice, "storage").contains("the same slot"));
        let exact = with_account(r#"{"code": "0x00", "storage": {"0x1": "0x5", "0x1": "0x6"}}"#);
        assert!(refused(&exact, "storage").contains("the same slot"));
    }

    #[test]
    fn refuses_bad_and_duplicate_addresses() {
        let one = |key: &str| format!(r#"{{"alloc": {{"{key}": {{"balance": "0x1"}}}}}}"#);
        assert!(refused(&one("0xaa"), r#"alloc["0xaa"]"#).contains("40 hex digits"));
        refused(&one(&format!("0x{}", "g".repeat(40))), "alloc");
        // EIP-55's own example with one letter's case flipped.
        let bad = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
        assert!(refused(&one(bad), bad).contains("checksum"));
        let text = r#"{"alloc": {
            "0x00000000000000000000000000000000000000aa": {"balance": "0x1"},
            "0x00000000000000000000000000000000000000AA": {"balance": "0x1"}}}"#;
        assert!(
            refused(text, "0x00000000000000000000000000000000000000AA").contains("same address")
        );
        let text = r#"{"alloc": {
            "00000000000000000000000000000000000000aa": {"balance": "0x1"},
            "0x00000000000000000000000000000000000000aa": {"balance": "0x1"}}}"#;
        assert!(refused(text, "alloc").contains("same address"));
    }

    #[test]
    fn refuses_bad_top_level_fields() {
        refused(r#"{"config": {"chainId": "0xq"}, "alloc": {}}"#, "config.chainId");
        refused(r#"{"config": 5, "alloc": {}}"#, "config");
        refused(r#"{"timestamp": "soon", "alloc": {}}"#, "timestamp");
        assert!(refused(r#"{"number": "0x5", "alloc": {}}"#, "number").contains("block 0"));
        assert!(matches!(parse(r#"{"config": {}}"#), Err(GenesisFileError::Json(_))));
        assert!(matches!(parse("[1, 2]"), Err(GenesisFileError::Json(_))));
        assert!(matches!(parse(r#"{"alloc": {"#), Err(GenesisFileError::Json(_))));
    }

    #[test]
    fn large_allocations_parse() {
        let accounts: Vec<String> = (0..30_000u64)
            .map(|i| format!(r#""{:040x}": {{"balance": "{i}", "nonce": "0x{i:x}"}}"#, i + 1))
            .collect();
        let text = format!(r#"{{"alloc": {{{}}}}}"#, accounts.join(","));
        let genesis = parse(&text).expect("parses");
        assert_eq!(genesis.alloc.len(), 30_000);
        let last = Address::left_padding_from(&30_000u64.to_be_bytes());
        assert_eq!(genesis.alloc[&last].balance, U256::from(29_999));
        assert_eq!(genesis.alloc[&last].nonce, 29_999);
    }
}
