//! A rollup on the dev L1 for integration tests: the dev L1, the contract deployed with test
//! parameters, a proposer with its own L2 store, and a replica that follows the proposals and
//! proves the first lie it sees (what the challenger does, without its daemon).

use alloy_network::EthereumWallet;
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionReceipt;
use alloy_signer_local::PrivateKeySigner;
use native_challenger::devnet::{Devnet, DevnetConfig};
use native_challenger::execute_local::chain::ChainRules;
use native_challenger::execute_local::execute::record_segment_trace;
use native_challenger::execute_local::l2::{L2Block, stored_header};
use native_challenger::execute_local::replay::execute_on_store;
use native_challenger::execute_local::store::StateStore;
use native_challenger::proposer::{
    Fault, L1Anchor, PlannedBatch, Proposer, ProposerConfig, Workload, WorkloadSpec,
};
use native_challenger::protocol::batch_tree::leaf_index;
use native_challenger::protocol::{Checkpoint, CheckpointProof, Cut, L2Header};
use native_challenger::rollup::{
    ChallengeArgs, L2Genesis, NativeRollup, RollupClient, RollupParams, dev_users,
};

pub const L2_CHAIN_ID: u64 = 901;
pub const L2_GAS_LIMIT: u64 = 2_000_000;

pub struct RollupEnv {
    pub node: Devnet,
    pub params: RollupParams,
    /// Dev accounts 0 (proposer), 1 (challenger), 2 (a copier), 3 (a second proposer).
    pub proposer_l1: RollupClient,
    pub challenger: RollupClient,
    pub copier: RollupClient,
    pub proposer: Proposer,
    pub replica: Replica,
    pub genesis: L2Genesis,
    _dirs: Vec<tempfile::TempDir>,
}

pub fn rules() -> ChainRules {
    super::rules()
}

pub fn provider(node: &Devnet, index: usize) -> (DynProvider, Address) {
    let signer = PrivateKeySigner::from_bytes(&node.accounts[index].private_key).expect("dev key");
    let address = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(node.http_url.parse().expect("url"))
        .erased();
    (provider, address)
}

fn open_store() -> (tempfile::TempDir, StateStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = StateStore::open(dir.path()).expect("store");
    (dir, store)
}

impl RollupEnv {
    pub async fn new(window: u64) -> Self {
        Self::with(window, WorkloadSpec { txs_per_block: 8, ..WorkloadSpec::default() }).await
    }

    pub async fn with(window: u64, spec: WorkloadSpec) -> Self {
        let node = Devnet::spawn(DevnetConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..DevnetConfig::default()
        })
        .await
        .expect("dev L1 starts");
        let users = dev_users(8);
        let addresses: Vec<Address> = users.iter().map(|u| u.address()).collect();
        let latest = node_anchor(&node).await;
        let genesis = L2Genesis::dev(L2_CHAIN_ID, latest.timestamp, &addresses);
        let (_, header) = genesis.build().expect("genesis");
        let mut params = RollupParams::dev(L2_CHAIN_ID, header.state_root, genesis.timestamp);
        params.challenge_window = window;
        params.max_l2_gas_limit = L2_GAS_LIMIT;
        let (p0, a0) = provider(&node, 0);
        let (proposer_l1, _) = RollupClient::deploy(p0, a0, &params).await.expect("deploy");
        let address = proposer_l1.address();
        let client = |i| {
            let (p, a) = provider(&node, i);
            RollupClient::at(p, address, a)
        };
        let (challenger, copier) = (client(1), client(2));
        let (d1, store) = open_store();
        genesis.init_store(&store).expect("genesis");
        let workload = Workload::new(L2_CHAIN_ID, users, spec, 10_000_000_000);
        let config = ProposerConfig { l2_gas_limit: L2_GAS_LIMIT, ..ProposerConfig::default() };
        let proposer =
            Proposer::new(store, rules(), workload, config, genesis.timestamp).expect("proposer");
        let replica = Replica::new(&genesis);
        Self {
            node,
            params,
            proposer_l1,
            challenger,
            copier,
            proposer,
            replica,
            genesis,
            _dirs: vec![d1],
        }
    }

    /// Another replica, at genesis.
    pub fn replica_from_genesis(&self) -> Replica {
        Replica::new(&self.genesis)
    }

    pub fn client(&self, index: usize) -> RollupClient {
        let (p, a) = provider(&self.node, index);
        RollupClient::at(p, self.proposer_l1.address(), a)
    }

    pub async fn anchor(&self) -> L1Anchor {
        node_anchor(&self.node).await
    }

    /// Builds a batch on the contract's tip and proposes it; the replica follows it.
    pub async fn propose(
        &mut self,
        blocks: usize,
        fault: Option<Fault>,
    ) -> (u64, PlannedBatch, Option<ChallengeArgs>) {
        let parent = self.proposer_l1.tip().await.expect("tip");
        let anchor = self.anchor().await;
        let batch = self.proposer.build_batch(parent, anchor, blocks, fault).expect("build");
        let (id, _) = self
            .proposer
            .propose(&self.proposer_l1, &batch, self.params.proposer_bond)
            .await
            .expect("propose");
        let proof = self.replica.follow(&batch, id);
        (id, batch, proof)
    }

    pub async fn mine(&self, blocks: u64) {
        let (p, _) = provider(&self.node, 0);
        let _: () = p.raw_request("anvil_mine".into(), (U256::from(blocks),)).await.expect("mine");
    }

    pub async fn balance(&self, account: Address) -> U256 {
        self.challenger.provider().get_balance(account).await.expect("balance")
    }

    /// Everything the contract holds is accounted for: the bonds of all batches (0 once
    /// finalized or invalidated), the credits and challenger bonds of `accounts` (every account
    /// that ever had either), and the burned ether.
    pub async fn assert_balanced(&self, accounts: &[Address]) {
        let c = &self.proposer_l1;
        let mut expected = c.total_burned().await.expect("burned");
        let count: u64 = c.read(&NativeRollup::batchCountCall {}).await.expect("count");
        for id in 1..=count {
            expected += c.batch(id).await.expect("batch").bond;
        }
        for account in accounts {
            expected += c.credits(*account).await.expect("credits");
            expected += c.challenger_bond(*account).await.expect("bond");
        }
        assert_eq!(
            self.balance(c.address()).await,
            expected,
            "contract balance is fully accounted for"
        );
    }

    /// Registers `client` as a challenger with one bond.
    pub async fn bond(&self, client: &RollupClient) {
        client.deposit_challenger_bond(self.params.challenger_bond).await.expect("bond");
    }

    /// Commit, then reveal in the next block.
    pub async fn commit_and_challenge(
        &self,
        client: &RollupClient,
        args: &ChallengeArgs,
    ) -> Result<TransactionReceipt, native_challenger::rollup::RollupError> {
        client.commit(args.commitment(client.from())).await.expect("commit");
        // The reveal must land in a later block than the commitment, and nodes check it in
        // the latest block's context: wait for one more block.
        self.mine(1).await;
        client.challenge(args).await
    }
}

async fn node_anchor(node: &Devnet) -> L1Anchor {
    let (p, _) = provider(node, 0);
    native_challenger::proposer::driver::latest_anchor(&p).await.expect("anchor")
}

/// Gas paid by a receipt's transaction, in wei.
pub fn fee(receipt: &TransactionReceipt) -> U256 {
    U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price)
}

/// Follows proposals with its own L2 state and proves the first divergent checkpoint.
pub struct Replica {
    pub store: StateStore,
    pub rules: ChainRules,
    _dir: tempfile::TempDir,
}

impl Replica {
    pub fn new(genesis: &L2Genesis) -> Self {
        let (dir, store) = open_store();
        genesis.init_store(&store).expect("genesis");
        Self { store, rules: rules(), _dir: dir }
    }

    /// Replays `batch`; at the first leaf (a cut inside a block, or a block's checkpoint)
    /// whose claim differs from its own, records the proof of that leaf's segment. Always
    /// applies every block (its state stays the true one).
    pub fn follow(&mut self, batch: &PlannedBatch, batch_id: u64) -> Option<ChallengeArgs> {
        let mut proof = None;
        let head = self.store.head().expect("head").expect("init");
        let base = self.header(head.number);
        for (index, inputs) in batch.blocks.iter().enumerate() {
            let block = L2Block::new(inputs.clone()).expect("inputs");
            let pending = execute_on_store(&self.store, &self.rules, &block).expect("replay");
            let mine = Checkpoint {
                input_commitment: block.input_commitment,
                post_state_root: pending.post_state_root,
                gas_used: pending.outcome.gas_used,
            };
            // Leaves as (end, root, gas); a block's own leaf ends at its transaction count.
            let count = block.inputs.transactions.len() as u32;
            let leaves = |cuts: &[Cut], cp: &Checkpoint| -> Vec<(u32, B256, u64, bool)> {
                let mut out: Vec<_> =
                    cuts.iter().map(|c| (c.end_tx, c.state_root, c.gas_used, true)).collect();
                out.push((count, cp.post_state_root, cp.gas_used, false));
                out
            };
            let local = leaves(&pending.cuts, &mine);
            let claimed = leaves(&batch.claimed_cuts[index], &batch.claimed[index]);
            let wrong = (0..claimed.len()).find(|&k| local.get(k) != claimed.get(k));
            if let (None, Some(k)) = (&proof, wrong) {
                let (trace, recorded) =
                    record_segment_trace(&self.store, &self.rules, &block, k as u16)
                        .expect("trace");
                let end = local.get(k).copied().expect("the block has this segment");
                assert_eq!(recorded.step.post_state_root, end.1);
                let leaf = leaf_index(&batch.claimed_cuts, index, k);
                proof = Some(ChallengeArgs {
                    batch_id,
                    proof: CheckpointProof::new(&base, &batch.claimed, &batch.claimed_cuts, leaf)
                        .expect("in batch"),
                    post_state_root: end.1,
                    gas_used: end.2,
                    trace: trace.encode().expect("encode").into(),
                    salt: keccak256(index.to_be_bytes()),
                });
            }
            pending.commit(&self.store).expect("commit");
        }
        proof
    }

    /// The stored header of L2 block `number`.
    pub fn header(&self, number: u64) -> L2Header {
        stored_header(&self.store, number).expect("read").expect("stored")
    }

    /// The head's state root.
    pub fn root(&self) -> B256 {
        self.store.head().expect("head").expect("init").state_root
    }
}
