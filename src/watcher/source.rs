//! The watcher's view of L1: blocks, the rollup's logs, its batch count and transactions'
//! calldata, read over JSON-RPC from one or more endpoints.
//!
//! Input: endpoint URLs (HTTP or WebSocket) and a retry policy. Output: [`BlockRef`]s, logs
//! and calldata, or a [`SourceError`] once every endpoint has failed every retry. Reads
//! survive RPC faults: each call is retried with exponential backoff, moving to the next
//! endpoint after each failure (failover), and an `eth_getLogs` range a provider refuses is
//! split in halves until it is accepted.

use crate::rollup::NativeRollup;
use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256, Bytes};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{BlockNumberOrTag, Filter, Log, TransactionRequest};
use alloy_sol_types::SolCall;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// An L1 block as the watcher tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    pub number: u64,
    pub hash: B256,
    pub parent_hash: B256,
    pub timestamp: u64,
}

/// Why a read failed after all retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("L1 unavailable after {attempts} attempts over {endpoints} endpoint(s): {last}")]
    Unavailable { attempts: u32, endpoints: usize, last: String },
    #[error("connecting to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("no L1 endpoint configured")]
    NoEndpoint,
    #[error("{endpoint} refused the request: {reason}")]
    Refused { endpoint: String, reason: String },
}

/// How one attempt failed.
#[derive(Debug)]
enum OpError {
    /// Transport failure, timeout, server error: worth another attempt, maybe elsewhere.
    Retry(String),
    /// The node answered with an error about the request itself (e.g. a log range too
    /// large): retrying the same request is pointless.
    Refused(String),
}

fn retry(err: impl std::fmt::Display) -> OpError {
    OpError::Retry(err.to_string())
}

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Largest block range asked of `eth_getLogs` at once (smaller on refusal).
    pub max_log_range: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 8,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            timeout: Duration::from_secs(20),
            max_log_range: 2_000,
        }
    }
}

/// L1 reads the watcher needs; the RPC implementation is [`RpcSource`].
pub trait L1Source: Send + Sync {
    /// The newest block (or, with `finalized`, the newest finalized one).
    fn head(&self, finalized: bool) -> impl Future<Output = Result<BlockRef, SourceError>> + Send;
    fn block(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<BlockRef>, SourceError>> + Send;
    /// Logs of `address` in `from..=to`, in chain order.
    fn logs(
        &self,
        address: Address,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<Log>, SourceError>> + Send;
    /// The calldata of a mined transaction (`None` if the node does not know it).
    fn tx_input(
        &self,
        hash: B256,
    ) -> impl Future<Output = Result<Option<Bytes>, SourceError>> + Send;
    /// The rollup's `batchCount()` as of the end of L1 block `block`.
    fn batch_count(
        &self,
        rollup: Address,
        block: u64,
    ) -> impl Future<Output = Result<u64, SourceError>> + Send;
    /// Stop trusting the endpoint in use: the next read goes to the next one (an answer was
    /// found incomplete, e.g. logs missing that L1's own state says exist).
    fn distrust_current(&self);
}

/// [`L1Source`] over JSON-RPC endpoints with retries and failover.
#[derive(Debug)]
pub struct RpcSource {
    endpoints: Vec<(String, DynProvider)>,
    policy: RetryPolicy,
    /// The endpoint to try first (the last one that worked).
    current: AtomicUsize,
    /// The `eth_getLogs` range size last accepted (starts at the policy's maximum).
    log_range: AtomicU64,
}

impl RpcSource {
    /// Connects to every URL (`http(s)://` or `ws(s)://`).
    pub async fn connect(urls: &[String], policy: RetryPolicy) -> Result<Self, SourceError> {
        if urls.is_empty() {
            return Err(SourceError::NoEndpoint);
        }
        let mut endpoints = Vec::with_capacity(urls.len());
        for url in urls {
            endpoints.push((url.clone(), connect(url).await?));
        }
        Ok(Self {
            endpoints,
            policy,
            current: AtomicUsize::new(0),
            log_range: AtomicU64::new(policy.max_log_range),
        })
    }

    /// A source over providers already built (tests).
    pub fn from_providers(endpoints: Vec<(String, DynProvider)>, policy: RetryPolicy) -> Self {
        Self {
            endpoints,
            policy,
            current: AtomicUsize::new(0),
            log_range: AtomicU64::new(policy.max_log_range),
        }
    }

    /// Runs `op` against the current endpoint, retrying with backoff and moving to the next
    /// endpoint after each failure.
    async fn with_retry<T, F, Fut>(&self, what: &str, op: F) -> Result<T, SourceError>
    where
        F: Fn(DynProvider) -> Fut,
        Fut: Future<Output = Result<T, OpError>>,
    {
        let n = self.endpoints.len();
        if n == 0 {
            return Err(SourceError::NoEndpoint);
        }
        let mut backoff = self.policy.initial_backoff;
        let mut last = String::new();
        for attempt in 0..self.policy.attempts.max(1) {
            let index = self.current.load(Ordering::Relaxed) % n;
            let (url, provider) = &self.endpoints[index];
            match tokio::time::timeout(self.policy.timeout, op(provider.clone())).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(OpError::Refused(err))) => {
                    return Err(SourceError::Refused { endpoint: url.clone(), reason: err });
                }
                Ok(Err(OpError::Retry(err))) => last = format!("{url}: {what}: {err}"),
                Err(_) => {
                    last = format!("{url}: {what}: timed out after {:?}", self.policy.timeout)
                }
            }
            tracing::warn!(target: "native_challenger::watcher", attempt, error = %last, "L1 read failed; retrying");
            self.current.store((index + 1) % n, Ordering::Relaxed);
            if attempt + 1 < self.policy.attempts {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.policy.max_backoff);
            }
        }
        Err(SourceError::Unavailable { attempts: self.policy.attempts, endpoints: n, last })
    }

    /// One `eth_getLogs` call. While the range can still be split (`splittable`), an error
    /// response is a refusal, returned at once for the caller to split the range. A one-block
    /// range cannot be split: there an error response (also what a rate-limiting provider
    /// sends, with HTTP 429) is retried with backoff and failover like any other failure.
    async fn logs_once(&self, filter: &Filter, splittable: bool) -> Result<Vec<Log>, SourceError> {
        self.with_retry("eth_getLogs", |p| {
            let filter = filter.clone();
            async move {
                p.get_logs(&filter).await.map_err(|e| match e.as_error_resp() {
                    Some(payload) if splittable => OpError::Refused(payload.to_string()),
                    _ => retry(e),
                })
            }
        })
        .await
    }
}

async fn connect(url: &str) -> Result<DynProvider, SourceError> {
    let provider = ProviderBuilder::new()
        .connect(url)
        .await
        .map_err(|e| SourceError::Connect { url: url.to_string(), reason: e.to_string() })?;
    Ok(provider.erased())
}

fn block_ref(block: &alloy_rpc_types_eth::Block) -> BlockRef {
    BlockRef {
        number: block.header.number,
        hash: block.header.hash,
        parent_hash: block.header.parent_hash,
        timestamp: block.header.timestamp,
    }
}

impl L1Source for RpcSource {
    async fn head(&self, finalized: bool) -> Result<BlockRef, SourceError> {
        let tag = if finalized { BlockNumberOrTag::Finalized } else { BlockNumberOrTag::Latest };
        self.with_retry("head", |p| async move {
            let block = p.get_block_by_number(tag).await.map_err(retry)?;
            block.map(|b| block_ref(&b)).ok_or_else(|| retry(format!("no {tag} block")))
        })
        .await
    }

    async fn block(&self, number: u64) -> Result<Option<BlockRef>, SourceError> {
        self.with_retry("block", |p| async move {
            let block = p.get_block_by_number(number.into()).await.map_err(retry)?;
            Ok(block.map(|b| block_ref(&b)))
        })
        .await
    }

    async fn logs(&self, address: Address, from: u64, to: u64) -> Result<Vec<Log>, SourceError> {
        let mut out = Vec::new();
        // The range size adapts, and is remembered for later reads: a refusal halves it, an
        // answer doubles it again up to the policy's maximum (a refusal may have been a
        // passing rate limit rather than the provider's range limit).
        let max = self.policy.max_log_range.max(1);
        let mut step = self.log_range.load(Ordering::Relaxed).clamp(1, max);
        let mut start = from;
        while start <= to {
            let end = to.min(start.saturating_add(step - 1));
            let filter = Filter::new().address(address).from_block(start).to_block(end);
            match self.logs_once(&filter, start < end).await {
                Ok(logs) => {
                    out.extend(logs);
                    step = step.saturating_mul(2).min(max);
                    self.log_range.store(step, Ordering::Relaxed);
                    if end == u64::MAX {
                        break;
                    }
                    start = end + 1;
                }
                Err(err @ SourceError::Refused { .. }) if start < end => {
                    step = (end - start).div_ceil(2).max(1);
                    self.log_range.store(step, Ordering::Relaxed);
                    tracing::warn!(target: "native_challenger::watcher", start, end, step, %err, "eth_getLogs refused; reading smaller ranges");
                }
                Err(err) => return Err(err),
            }
        }
        Ok(out)
    }

    async fn tx_input(&self, hash: B256) -> Result<Option<Bytes>, SourceError> {
        self.with_retry("transaction", |p| async move {
            let tx = p.get_transaction_by_hash(hash).await.map_err(retry)?;
            Ok(tx.map(|t| t.input().clone()))
        })
        .await
    }

    async fn batch_count(&self, rollup: Address, block: u64) -> Result<u64, SourceError> {
        let input: Bytes = NativeRollup::batchCountCall {}.abi_encode().into();
        self.with_retry("batchCount", |p| {
            let request = TransactionRequest::default().to(rollup).input(input.clone().into());
            async move {
                let out = p.call(request).block(block.into()).await.map_err(retry)?;
                // No code at `rollup` yet (a block before its deployment): no batches.
                if out.is_empty() {
                    return Ok(0);
                }
                NativeRollup::batchCountCall::abi_decode_returns(&out)
                    .map_err(|e| retry(format!("batchCount() answer does not decode: {e}")))
            }
        })
        .await
    }

    fn distrust_current(&self) {
        let n = self.endpoints.len().max(1);
        let next = (self.current.load(Ordering::Relaxed) + 1) % n;
        self.current.store(next, Ordering::Relaxed);
    }
}
