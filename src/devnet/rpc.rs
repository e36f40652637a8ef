//! The dev L1's JSON-RPC server: standard `eth_`/`net_`/`web3_` methods, `eth_subscribe`
//! over WebSocket, and anvil-style dev controls, on one port (HTTP and WebSocket).
//!
//! Input: JSON-RPC requests. Output: responses in the shapes alloy's RPC types define (the
//! shapes geth, reth and anvil answer with), and errors with the codes clients parse:
//! -32700 parse error, -32600 invalid request, -32601 unknown method, -32602 invalid params,
//! -32000 for rejected transactions and failed calls, 3 (with the revert data) for reverts.
//!
//! Dev keys: `eth_accounts`, `eth_signTransaction` (EIP-1559 requests, as anvil; see
//! [`super::sign`]).
//! Dev controls: `evm_mine`, `evm_snapshot`, `evm_revert`, `evm_increaseTime`,
//! `evm_setNextBlockTimestamp`, `evm_setAutomine`, `evm_setIntervalMining` (as anvil and
//! hardhat name them), `devnet_reorg {depth, drop, delay}` and `devnet_info`.

use super::DevnetError;
use super::chain::{CallError, Chain, ChainEvent, Mining, SubmitError, halt_message};
use super::views::{block_logs, logs_json, rpc_block, rpc_header, rpc_receipt, rpc_tx};
use alloy_consensus::Transaction as _;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::{
    FeeHistory, Filter, FilterBlockOption, Log, Transaction as RpcTransaction, TransactionRequest,
};
use jsonrpsee::server::{
    PendingSubscriptionSink, RpcModule, Server, ServerHandle, SubscriptionMessage,
};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use revm::context_interface::result::ExecutionResult;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

type Shared = Arc<Mutex<Chain>>;
type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// The tip `eth_maxPriorityFeePerGas` suggests (1 gwei, as anvil).
const SUGGESTED_TIP: u64 = 1_000_000_000;
/// Most blocks one `eth_getLogs` may scan.
const MAX_LOG_RANGE: u64 = 100_000;
/// Most blocks one `eth_feeHistory` may cover.
const MAX_FEE_HISTORY: u64 = 1024;

fn lock(chain: &Shared) -> MutexGuard<'_, Chain> {
    // A panic while holding the lock cannot leave the chain half-written: every change is
    // one store batch followed by in-memory pushes. Keep serving.
    chain.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn server_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32000, message, None::<()>)
}

fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32602, message, None::<()>)
}

fn internal(err: DevnetError) -> ErrorObjectOwned {
    match err {
        DevnetError::Request(message) => invalid_params(message),
        other => ErrorObjectOwned::owned(-32603, other.to_string(), None::<()>),
    }
}

fn submit_error(err: SubmitError) -> ErrorObjectOwned {
    match err {
        SubmitError::Decode(_) | SubmitError::Signature(_) => invalid_params(err.to_string()),
        SubmitError::Internal(inner) => internal(inner),
        // anvil answers -32003 ("transaction rejected", EIP-1474) for pool rejections.
        SubmitError::NonceTooLow { .. }
        | SubmitError::InsufficientFunds { .. }
        | SubmitError::ChainId { .. }
        | SubmitError::FeeCapTooLow { .. } => {
            ErrorObjectOwned::owned(-32003, err.to_string(), None::<()>)
        }
        other => server_error(other.to_string()),
    }
}

/// Reverts carry their data and, for `Error(string)`, the reason in the message.
fn call_error(err: CallError) -> ErrorObjectOwned {
    match err {
        CallError::Reverted { output } => {
            let message = match alloy_sol_reason(&output) {
                Some(reason) => format!("execution reverted: {reason}"),
                None => "execution reverted".to_string(),
            };
            ErrorObjectOwned::owned(3, message, Some(output))
        }
        CallError::Halted(message) | CallError::Invalid(message) => server_error(message),
        CallError::Internal(inner) => internal(inner),
    }
}

/// Decodes a Solidity `Error(string)` revert.
fn alloy_sol_reason(output: &[u8]) -> Option<String> {
    let body = output.strip_prefix(&[0x08, 0xc3, 0x79, 0xa0][..])?;
    let offset = usize::try_from(U256::from_be_slice(body.get(..32)?)).ok()?;
    let len_word = body.get(offset..offset.checked_add(32)?)?;
    let len = usize::try_from(U256::from_be_slice(len_word)).ok()?;
    let start = offset.checked_add(32)?;
    let text = body.get(start..start.checked_add(len)?)?;
    String::from_utf8(text.to_vec()).ok()
}

/// Starts the server on `listen`; returns its handle and bound address.
pub async fn serve(
    chain: Shared,
    listen: SocketAddr,
) -> Result<(ServerHandle, SocketAddr), DevnetError> {
    let config = jsonrpsee::server::ServerConfig::builder()
        .max_request_body_size(32 * 1024 * 1024)
        .max_response_body_size(64 * 1024 * 1024)
        .build();
    let server = Server::builder()
        .set_config(config)
        .build(listen)
        .await
        .map_err(|err| DevnetError::Server(format!("binding {listen}: {err}")))?;
    let addr = server.local_addr().map_err(|err| DevnetError::Server(err.to_string()))?;
    let module = module(chain).map_err(|err| DevnetError::Server(err.to_string()))?;
    Ok((server.start(module), addr))
}

/// Mines on the interval while interval mining is on.
pub async fn interval_miner(chain: Shared) {
    loop {
        let mining = lock(&chain).mining();
        match mining {
            Mining::Interval(interval) => {
                tokio::time::sleep(interval).await;
                let chain = chain.clone();
                let mined = tokio::task::spawn_blocking(move || {
                    let mut chain = lock(&chain);
                    // The mode may have changed while sleeping.
                    matches!(chain.mining(), Mining::Interval(_)).then(|| chain.mine(None))
                })
                .await;
                if let Ok(Some(Err(err))) = mined {
                    tracing::error!(%err, "interval mining failed");
                }
            }
            Mining::Auto | Mining::Manual => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Resolves a block tag to a number at or below the head; `None` for a future block.
fn resolve(chain: &Chain, tag: BlockNumberOrTag) -> Option<u64> {
    let head = chain.head().number();
    match tag {
        BlockNumberOrTag::Earliest => Some(0),
        BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
        BlockNumberOrTag::Latest
        | BlockNumberOrTag::Pending
        | BlockNumberOrTag::Safe
        | BlockNumberOrTag::Finalized => Some(head),
    }
}

fn resolve_id(chain: &Chain, id: Option<BlockId>) -> RpcResult<u64> {
    match id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)) {
        BlockId::Number(tag) => resolve(chain, tag).ok_or_else(|| server_error("header not found")),
        BlockId::Hash(hash) => chain
            .block_by_hash(&hash.block_hash)
            .map(|b| b.number())
            .ok_or_else(|| server_error(format!("block {} not found", hash.block_hash))),
    }
}

fn get_logs(chain: &Chain, filter: &Filter) -> RpcResult<Vec<Log>> {
    let mut out = Vec::new();
    match &filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let block = chain.block_by_hash(hash).ok_or_else(|| server_error("unknown block"))?;
            block_logs(block, filter, false, &mut out);
        }
        FilterBlockOption::Range { from_block, to_block } => {
            let head = chain.head().number();
            let bound =
                |tag: Option<BlockNumberOrTag>| match tag.unwrap_or(BlockNumberOrTag::Latest) {
                    BlockNumberOrTag::Number(n) => n,
                    BlockNumberOrTag::Earliest => 0,
                    _ => head,
                };
            let from = bound(*from_block);
            let to = bound(*to_block).min(head);
            if from > bound(*to_block) {
                return Err(invalid_params("invalid block range params"));
            }
            if to.saturating_sub(from) > MAX_LOG_RANGE {
                return Err(server_error(format!("block range exceeds {MAX_LOG_RANGE} blocks")));
            }
            for number in from..=to {
                if let Some(block) = chain.block(number) {
                    block_logs(block, filter, false, &mut out);
                }
            }
        }
    }
    Ok(out)
}

fn fee_history(
    chain: &Chain,
    count: u64,
    newest: BlockNumberOrTag,
    percentiles: Option<Vec<f64>>,
) -> RpcResult<FeeHistory> {
    if let Some(p) = &percentiles {
        let sorted = p.windows(2).all(|w| w[0] <= w[1]);
        if !sorted || p.iter().any(|x| !(0.0..=100.0).contains(x)) {
            return Err(invalid_params(
                "invalid reward percentiles: must be ascending, within [0, 100]",
            ));
        }
    }
    let newest = resolve(chain, newest).ok_or_else(|| server_error("header not found"))?;
    let count = count.min(MAX_FEE_HISTORY).min(newest + 1);
    let oldest = newest + 1 - count;
    let mut history = FeeHistory { oldest_block: oldest, ..Default::default() };
    for number in oldest..=newest {
        let Some(block) = chain.block(number) else { continue };
        let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
        history.base_fee_per_gas.push(u128::from(base_fee));
        history.gas_used_ratio.push(block.header.gas_used as f64 / block.header.gas_limit as f64);
        history.base_fee_per_blob_gas.push(1);
        history.blob_gas_used_ratio.push(0.0);
        if let Some(percentiles) = &percentiles {
            let mut tips: Vec<(u128, u64)> = block
                .txs
                .iter()
                .map(|t| (t.tx.effective_tip_per_gas(base_fee).unwrap_or(0), t.gas_used))
                .collect();
            tips.sort_unstable();
            let total: u64 = tips.iter().map(|(_, g)| g).sum();
            let rewards = percentiles
                .iter()
                .map(|p| {
                    let threshold = (total as f64 * p / 100.0) as u64;
                    let mut cumulative = 0u64;
                    for (tip, gas) in &tips {
                        cumulative += gas;
                        if cumulative >= threshold {
                            return *tip;
                        }
                    }
                    tips.last().map_or(0, |(tip, _)| *tip)
                })
                .collect();
            history.reward.get_or_insert_with(Vec::new).push(rewards);
        }
    }
    let next = if newest == chain.head().number() {
        chain.next_base_fee()
    } else {
        chain.block(newest + 1).and_then(|b| b.header.base_fee_per_gas).unwrap_or_default()
    };
    history.base_fee_per_gas.push(u128::from(next));
    history.base_fee_per_blob_gas.push(1);
    Ok(history)
}

fn module(chain: Shared) -> Result<RpcModule<Shared>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(chain);

    m.register_method("web3_clientVersion", |_, _, _| {
        Ok::<_, ErrorObjectOwned>(format!(
            "native-challenger-devnet/v{}",
            env!("CARGO_PKG_VERSION")
        ))
    })?;
    m.register_method("net_version", |_, chain, _| {
        Ok::<_, ErrorObjectOwned>(lock(chain).config().chain_id.to_string())
    })?;
    m.register_method("net_listening", |_, _, _| Ok::<_, ErrorObjectOwned>(true))?;
    m.register_method("eth_chainId", |_, chain, _| {
        Ok::<_, ErrorObjectOwned>(U64::from(lock(chain).config().chain_id))
    })?;
    m.register_method("eth_syncing", |_, _, _| Ok::<_, ErrorObjectOwned>(false))?;
    m.register_method("eth_accounts", |_, chain, _| {
        let accounts = lock(chain).config().dev_accounts().map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(accounts.into_iter().map(|a| a.address).collect::<Vec<_>>())
    })?;
    m.register_method("eth_signTransaction", |params, chain, _| {
        let request: TransactionRequest = params.one()?;
        let chain = lock(chain);
        let accounts = chain.config().dev_accounts().map_err(internal)?;
        super::sign::sign_request(chain.config().chain_id, &accounts, request)
            .map_err(invalid_params)
    })?;
    m.register_method("eth_blockNumber", |_, chain, _| {
        Ok::<_, ErrorObjectOwned>(U64::from(lock(chain).head().number()))
    })?;
    m.register_method("eth_gasPrice", |_, chain, _| {
        let base = lock(chain).next_base_fee();
        Ok::<_, ErrorObjectOwned>(U256::from(base) + U256::from(SUGGESTED_TIP))
    })?;
    m.register_method("eth_maxPriorityFeePerGas", |_, _, _| {
        Ok::<_, ErrorObjectOwned>(U256::from(SUGGESTED_TIP))
    })?;
    m.register_method("eth_feeHistory", |params, chain, _| {
        let (count, newest, percentiles): (U64, BlockNumberOrTag, Option<Vec<f64>>) =
            params.parse()?;
        fee_history(&lock(chain), count.to(), newest, percentiles)
    })?;
    m.register_method("eth_getBlockByNumber", |params, chain, _| {
        let (tag, full): (BlockNumberOrTag, bool) = params.parse()?;
        let chain = lock(chain);
        Ok::<_, ErrorObjectOwned>(
            resolve(&chain, tag).and_then(|n| chain.block(n)).map(|b| rpc_block(b, full)),
        )
    })?;
    m.register_method("eth_getBlockByHash", |params, chain, _| {
        let (hash, full): (B256, bool) = params.parse()?;
        Ok::<_, ErrorObjectOwned>(lock(chain).block_by_hash(&hash).map(|b| rpc_block(b, full)))
    })?;
    m.register_method("eth_getBlockTransactionCountByNumber", |params, chain, _| {
        let (tag,): (BlockNumberOrTag,) = params.parse()?;
        let chain = lock(chain);
        Ok::<_, ErrorObjectOwned>(
            resolve(&chain, tag).and_then(|n| chain.block(n)).map(|b| U64::from(b.txs.len())),
        )
    })?;
    m.register_method("eth_getTransactionByHash", |params, chain, _| {
        let (hash,): (B256,) = params.parse()?;
        let chain = lock(chain);
        if let Some((block, index)) = chain.transaction(&hash) {
            return Ok::<_, ErrorObjectOwned>(rpc_tx(block, index));
        }
        Ok(chain.pool().get(&hash).map(|pooled| RpcTransaction {
            inner: pooled.tx.clone(),
            block_hash: None,
            block_number: None,
            transaction_index: None,
            effective_gas_price: None,
            block_timestamp: None,
        }))
    })?;
    m.register_method("eth_getTransactionReceipt", |params, chain, _| {
        let (hash,): (B256,) = params.parse()?;
        let chain = lock(chain);
        Ok::<_, ErrorObjectOwned>(
            chain.transaction(&hash).and_then(|(block, index)| rpc_receipt(block, index)),
        )
    })?;
    m.register_method("eth_getBlockReceipts", |params, chain, _| {
        let (id,): (BlockId,) = params.parse()?;
        let chain = lock(chain);
        let Ok(number) = resolve_id(&chain, Some(id)) else {
            return Ok::<_, ErrorObjectOwned>(None);
        };
        Ok(chain
            .block(number)
            .map(|b| (0..b.txs.len()).filter_map(|i| rpc_receipt(b, i)).collect::<Vec<_>>()))
    })?;
    m.register_method("eth_getBalance", |params, chain, _| {
        let (address, id): (Address, Option<BlockId>) = params.parse()?;
        let chain = lock(chain);
        let number = resolve_id(&chain, id)?;
        chain.state_at(number).and_then(|s| s.balance(address)).map_err(internal)
    })?;
    m.register_method("eth_getCode", |params, chain, _| {
        let (address, id): (Address, Option<BlockId>) = params.parse()?;
        let chain = lock(chain);
        let number = resolve_id(&chain, id)?;
        chain.state_at(number).and_then(|s| s.code(address)).map_err(internal)
    })?;
    m.register_method("eth_getStorageAt", |params, chain, _| {
        let (address, slot, id): (Address, U256, Option<BlockId>) = params.parse()?;
        let chain = lock(chain);
        let number = resolve_id(&chain, id)?;
        let value =
            chain.state_at(number).and_then(|s| s.storage(address, slot)).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(B256::from(value))
    })?;
    m.register_method("eth_getTransactionCount", |params, chain, _| {
        let (address, id): (Address, Option<BlockId>) = params.parse()?;
        let chain = lock(chain);
        let number = resolve_id(&chain, id)?;
        let nonce = chain.state_at(number).and_then(|s| s.nonce(address)).map_err(internal)?;
        let pending = matches!(id, Some(BlockId::Number(BlockNumberOrTag::Pending)));
        let nonce = if pending { chain.pool().pending_nonce(&address, nonce) } else { nonce };
        Ok::<_, ErrorObjectOwned>(U64::from(nonce))
    })?;
    m.register_blocking_method("eth_sendRawTransaction", |params, chain, _| {
        let (raw,): (Bytes,) = params.parse()?;
        lock(&chain).submit(&raw).map_err(submit_error)
    })?;
    m.register_blocking_method("eth_call", |params, chain, _| {
        let (request, id) = parse_call(&params)?;
        let chain = lock(&chain);
        let number = resolve_id(&chain, id)?;
        match chain.call(&request, number).map_err(call_error)? {
            ExecutionResult::Success { output, .. } => Ok(output.into_data()),
            ExecutionResult::Revert { output, .. } => {
                Err(call_error(CallError::Reverted { output }))
            }
            ExecutionResult::Halt { reason, gas, .. } => {
                Err(server_error(halt_message(&reason, gas.tx_gas_used())))
            }
        }
    })?;
    m.register_blocking_method("eth_estimateGas", |params, chain, _| {
        let (request, id) = parse_call(&params)?;
        let chain = lock(&chain);
        let number = resolve_id(&chain, id)?;
        chain.estimate_gas(&request, number).map(U64::from).map_err(call_error)
    })?;
    m.register_method("eth_getLogs", |params, chain, _| {
        let (filter,): (Filter,) = params.parse()?;
        get_logs(&lock(chain), &filter)
    })?;

    // Dev controls.
    m.register_blocking_method("evm_mine", |params, chain, _| {
        let timestamp: Option<U64> = params.sequence().optional_next().unwrap_or(None);
        lock(&chain).mine(timestamp.map(|t| t.to())).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>("0x0")
    })?;
    m.register_blocking_method("anvil_mine", |params, chain, _| {
        let mut seq = params.sequence();
        let blocks: Option<U64> = seq.optional_next()?;
        let mut chain = lock(&chain);
        for _ in 0..blocks.map_or(1, |b| b.to::<u64>()) {
            chain.mine(None).map_err(internal)?;
        }
        Ok::<_, ErrorObjectOwned>(())
    })?;
    m.register_method("evm_snapshot", |_, chain, _| {
        Ok::<_, ErrorObjectOwned>(U64::from(lock(chain).snapshot()))
    })?;
    m.register_blocking_method("evm_revert", |params, chain, _| {
        let (id,): (U64,) = params.parse()?;
        lock(&chain).revert(id.to()).map_err(internal)
    })?;
    m.register_method("evm_increaseTime", |params, chain, _| {
        let (seconds,): (U64,) = params.parse()?;
        Ok::<_, ErrorObjectOwned>(U64::from(lock(chain).increase_time(seconds.to()).max(0) as u64))
    })?;
    m.register_method("evm_setNextBlockTimestamp", |params, chain, _| {
        let (timestamp,): (U64,) = params.parse()?;
        lock(chain).set_next_timestamp(timestamp.to()).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(())
    })?;
    m.register_method("evm_setAutomine", |params, chain, _| {
        let (on,): (bool,) = params.parse()?;
        lock(chain).set_mining(if on { Mining::Auto } else { Mining::Manual });
        Ok::<_, ErrorObjectOwned>(())
    })?;
    m.register_method("evm_setIntervalMining", |params, chain, _| {
        let (ms,): (u64,) = params.parse()?;
        let mining =
            if ms == 0 { Mining::Manual } else { Mining::Interval(Duration::from_millis(ms)) };
        lock(chain).set_mining(mining);
        Ok::<_, ErrorObjectOwned>(())
    })?;
    m.register_blocking_method("devnet_reorg", |params, chain, _| {
        let (request,): (ReorgRequest,) = params.parse()?;
        lock(&chain).reorg(request.depth, &request.drop, &request.delay).map_err(internal)
    })?;
    m.register_method("devnet_info", |_, chain, _| {
        let chain = lock(chain);
        let config = chain.config();
        Ok::<_, ErrorObjectOwned>(json!({
            "chainId": config.chain_id,
            "fork": config.fork,
            "gasLimit": config.gas_limit,
            "execute": {
                "address": config.execute_address,
                "blockGasLimit": config.execute_block_gas_limit,
                "baseGas": crate::protocol::EXECUTE_BASE_GAS,
                "gasPerTraceByte": crate::protocol::EXECUTE_GAS_PER_TRACE_BYTE,
                "gasPerTx": crate::protocol::EXECUTE_GAS_PER_TX,
            },
            "pool": chain.pool().len(),
        }))
    })?;

    m.register_subscription("eth_subscribe", "eth_subscription", "eth_unsubscribe", subscribe)?;
    Ok(m)
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReorgRequest {
    depth: u64,
    #[serde(default)]
    drop: Vec<B256>,
    #[serde(default)]
    delay: Vec<B256>,
}

fn parse_call(params: &Params<'_>) -> RpcResult<(TransactionRequest, Option<BlockId>)> {
    let mut seq = params.sequence();
    let request: TransactionRequest = seq.next()?;
    let id: Option<BlockId> = seq.optional_next()?;
    Ok((request, id))
}

async fn subscribe(
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    chain: Arc<Shared>,
    _: jsonrpsee::Extensions,
) {
    let mut seq = params.sequence();
    let kind: String = match seq.next() {
        Ok(kind) => kind,
        Err(err) => return pending.reject(err).await,
    };
    let filter: Option<Filter> = match kind.as_str() {
        "newHeads" => None,
        "logs" => match seq.optional_next::<Filter>() {
            Ok(filter) => Some(filter.unwrap_or_default()),
            Err(err) => return pending.reject(err).await,
        },
        other => {
            return pending
                .reject(invalid_params(format!("unsupported subscription: {other}")))
                .await;
        }
    };
    let mut events = lock(&chain).subscribe();
    let Ok(sink) = pending.accept().await else { return };
    loop {
        let event = tokio::select! {
            _ = sink.closed() => return,
            event = events.recv() => event,
        };
        let event = match event {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "subscriber lagged; events dropped");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let messages: Vec<Value> = match (&filter, &event) {
            (None, ChainEvent::Added(block)) => vec![json!(rpc_header(block))],
            (None, ChainEvent::Removed(_)) => Vec::new(),
            (Some(filter), ChainEvent::Added(block)) => logs_json(block, filter, false),
            (Some(filter), ChainEvent::Removed(block)) => logs_json(block, filter, true),
        };
        for message in messages {
            let Ok(raw) = serde_json::value::to_raw_value(&message) else { continue };
            if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                return;
            }
        }
    }
}
