// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title NativeRollup
/// @notice The L1 side of an optimistic native rollup (docs/protocol.md, "Rollup contract").
///
/// A proposer posts a batch of L2 blocks (their inputs, which the contract checks and emits in
/// a `BatchData` log) with one checkpoint per block: the block's input commitment, its post-state root and its gas used.
/// The contract chains the checkpoints into L2 block headers and keeps one Merkle root of the
/// batch's block hashes, so a challenge carries two headers and a path, whatever the batch's
/// length. A batch extends
/// the live chain's tip and carries a bond. During the challenge window anyone registered as a
/// challenger may prove one checkpoint wrong, in one transaction, by having the EXECUTE
/// precompile confirm a different transition of exactly that block's committed inputs from the
/// previous checkpoint's state. A proven batch and every batch built on it are invalidated, its
/// bond slashed (part to the challenger, the rest burned: locked here forever). After the
/// window a batch whose parent is final becomes final and its bond returns to the proposer.
///
/// Challenges are commit-reveal: the challenger first commits to a hash bound to its own
/// address, and reveals the proof in a later block, so a copy of the reveal sent from another
/// address has no commitment and fails. Commitments are stored per challenger, so committing a
/// copy of someone else's hash neither blocks their commitment nor lets the copier reveal.
contract NativeRollup {
    // ------------------------------------------------------------------ types

    /// One L2 block's commitment in a batch; `abi.encode` of it is the protocol's checkpoint.
    struct Checkpoint {
        bytes32 inputCommitment;
        bytes32 postStateRoot;
        uint256 gasUsed;
    }

    /// The protocol's 160-byte L2 header: `abi.encode` of it is the header's bytes, and its
    /// keccak256 the L2 block hash (docs/protocol.md, "L2 header and block hash").
    struct Header {
        bytes32 parentHash;
        uint256 number;
        bytes32 inputCommitment;
        bytes32 stateRoot;
        uint256 gasUsed;
    }

    enum Status {
        None,
        Pending,
        Finalized,
        Invalidated
    }

    /// A batch as stored: 5 slots.
    struct Batch {
        address proposer;
        uint64 proposedAt; // L1 block number of the proposal
        Status status;
        uint64 parent; // batch id this batch extends (0: genesis)
        uint64 firstBlock; // L2 number of the first block
        uint64 blockCount;
        uint64 lastTimestamp; // L2 timestamp of the last block
        bytes32 checkpointsRoot; // Merkle root of the batch's L2 block hashes (`_merkleRoot`)
        bytes32 lastBlockHash; // L2 block hash of the last block
        bytes32 lastStateRoot; // post-state root of the last block
        uint256 bond;
    }

    // ------------------------------------------------------------------ errors

    error WrongBond(uint256 sent, uint256 required);
    error ParentNotTip(uint64 parent, uint64 tip);
    error TooManyPendingBatches(uint256 limit);
    error BadBatchSize(uint256 blocks, uint256 checkpoints);
    error StaleAnchor(uint256 anchorBlock, uint256 currentBlock);
    error MalformedBlockInputs(uint256 index);
    error BlockInputsTooLarge(uint256 index, uint256 length, uint256 max);
    error TooManyTransactions(uint256 index, uint256 count, uint256 max);
    error WrongBlockNumber(uint256 index, uint64 found, uint64 expected);
    error TimestampDecreasing(uint256 index, uint64 found, uint64 previous);
    error TimestampInFuture(uint256 index, uint64 found, uint256 now_);
    error TimestampTooOld(uint256 index, uint64 found, uint256 now_);
    error GasLimitOutOfRange(uint256 index, uint64 gasLimit, uint64 max);
    error WrongAnchor(uint256 index, bytes32 found, bytes32 expected);
    error InputCommitmentMismatch(uint256 index);
    error GasUsedAboveLimit(uint256 index);
    error UnknownBatch(uint64 batchId);
    error BatchNotPending(uint64 batchId, Status status);
    error ChallengeWindowOpen(uint64 batchId, uint256 closesAfter);
    error ChallengeWindowClosed(uint64 batchId, uint256 closedAfter);
    error NotNextToFinalize(uint64 batchId, uint64 lastFinalized);
    error InsufficientChallengerBond(uint256 bond, uint256 required);
    error CommitmentExists(bytes32 commitment);
    error UnknownCommitment(bytes32 commitment);
    error CommitmentTooRecent(bytes32 commitment, uint256 committedAt);
    error BlockIndexOutOfRange(uint256 index, uint256 blocks);
    error CheckpointNotInBatch(uint64 batchId, uint256 index);
    error WrongParentHeader(bytes32 found, bytes32 expected);
    error MalformedTrace();
    error TraceWrongChain(uint64 found);
    error TraceWrongParent(bytes32 found, bytes32 expected);
    error TraceNotOneBlock(uint256 blocks);
    error TraceInputsMismatch(bytes32 found, bytes32 expected);
    error ClaimNotDisputed();
    error TransitionNotProven();
    error NothingToWithdraw();
    error TransferFailed();
    error Reentrancy();
    error BadConfig(string what);

    // ------------------------------------------------------------------ events

    /// The batch's data, exactly as `propose` received it (whoever called it: an EOA, a
    /// delegated account or a contract), so an observer needs the logs only.
    event BatchData(uint64 indexed batchId, bytes[] blocks, Checkpoint[] checkpoints);
    event BatchProposed(
        uint64 indexed batchId,
        uint64 indexed parent,
        address indexed proposer,
        uint64 firstBlock,
        uint64 blockCount,
        bytes32 lastBlockHash,
        bytes32 lastStateRoot,
        bytes32 checkpointsRoot
    );
    event BatchFinalized(uint64 indexed batchId, bytes32 lastBlockHash, bytes32 lastStateRoot);
    event BatchInvalidated(uint64 indexed batchId, uint64 indexed convictedBatch);
    event ChallengeCommitted(bytes32 indexed commitment, address indexed challenger);
    event CommitmentCancelled(bytes32 indexed commitment, address indexed challenger);
    event ProposerConvicted(
        uint64 indexed batchId,
        uint256 indexed blockIndex,
        address indexed challenger,
        bytes32 correctStateRoot,
        uint256 correctGasUsed,
        uint256 reward,
        uint256 burned
    );
    event ChallengerBondDeposited(address indexed challenger, uint256 amount, uint256 total);
    event ChallengerBondWithdrawn(address indexed challenger, uint256 amount, uint256 total);
    event Credited(address indexed account, uint256 amount, uint256 total);
    event Withdrawn(address indexed account, uint256 amount);

    // ------------------------------------------------------------------ configuration

    /// Offsets inside an encoded BlockInputs (docs/protocol.md, "Block inputs").
    uint256 private constant IN_TIMESTAMP = 8;
    uint256 private constant IN_GAS_LIMIT = 68;
    uint256 private constant IN_ANCHOR = 84;
    uint256 private constant IN_TX_COUNT = 116;
    uint256 private constant IN_FIXED_LEN = 120;
    /// Offset of the first block's payload inside a trace (43 + its 4-byte length).
    uint256 private constant TRACE_FIRST_BLOCK = 47;
    uint256 private constant BPS = 10_000;

    /// Protocol v2 (docs/protocol.md, "Witness budget"): the largest encoded BlockInputs and
    /// the most transactions one block may frame. The first keeps every block's trace under
    /// the proof-size bound even when none of its transactions runs; the second bounds
    /// EXECUTE's per-transaction charge (5,000 gas each) inside one L1 transaction.
    uint256 public constant MAX_BLOCK_INPUT_BYTES = 65_536;
    uint256 public constant MAX_TXS_PER_BLOCK = 1_024;

    address public immutable EXECUTE;
    uint64 public immutable CHAIN_ID;
    uint256 public immutable PROPOSER_BOND;
    uint256 public immutable CHALLENGER_BOND;
    uint64 public immutable CHALLENGE_WINDOW;
    uint64 public immutable MAX_L2_GAS_LIMIT;
    uint64 public immutable MAX_BLOCKS_PER_BATCH;
    uint64 public immutable MAX_PENDING_BATCHES;
    uint64 public immutable MAX_TIMESTAMP_LAG;
    uint256 public immutable REWARD_BPS;

    // ------------------------------------------------------------------ state

    mapping(uint64 => Batch) private _batches;
    uint64 public batchCount; // ids 1..=batchCount have been proposed; 0 is genesis
    uint64 public tip; // head of the live chain
    uint64 public lastFinalized;
    uint64 public pendingCount;
    uint256 public totalBurned;
    mapping(address => uint256) public credits;
    mapping(address => uint256) public challengerBond;
    mapping(address => uint256) public openCommitments;
    /// challenger => commitment => L1 block number of the commit (0: none).
    mapping(address => mapping(bytes32 => uint64)) public commitments;
    bool private transient _locked;

    struct Config {
        address execute;
        uint64 chainId;
        bytes32 genesisStateRoot;
        uint64 genesisTimestamp;
        uint256 proposerBond;
        uint256 challengerBond;
        uint64 challengeWindow;
        uint64 maxL2GasLimit;
        uint64 maxBlocksPerBatch;
        uint64 maxPendingBatches;
        uint64 maxTimestampLag;
        uint256 rewardBps;
    }

    constructor(Config memory c) {
        if (c.execute == address(0)) revert BadConfig("execute address");
        if (c.challengeWindow == 0) revert BadConfig("challenge window");
        if (c.maxBlocksPerBatch == 0 || c.maxPendingBatches == 0) revert BadConfig("batch limits");
        if (c.rewardBps > BPS) revert BadConfig("reward share");
        if (c.maxL2GasLimit < 21_000) revert BadConfig("max L2 gas limit");
        EXECUTE = c.execute;
        CHAIN_ID = c.chainId;
        PROPOSER_BOND = c.proposerBond;
        CHALLENGER_BOND = c.challengerBond;
        CHALLENGE_WINDOW = c.challengeWindow;
        MAX_L2_GAS_LIMIT = c.maxL2GasLimit;
        MAX_BLOCKS_PER_BATCH = c.maxBlocksPerBatch;
        MAX_PENDING_BATCHES = c.maxPendingBatches;
        MAX_TIMESTAMP_LAG = c.maxTimestampLag;
        REWARD_BPS = c.rewardBps;
        Batch storage genesis = _batches[0];
        genesis.status = Status.Finalized;
        genesis.blockCount = 1;
        genesis.lastTimestamp = c.genesisTimestamp;
        genesis.lastStateRoot = c.genesisStateRoot;
        genesis.lastBlockHash = _headerHash(bytes32(0), 0, bytes32(0), c.genesisStateRoot, 0);
        genesis.checkpointsRoot = genesis.lastBlockHash;
    }

    modifier nonReentrant() {
        if (_locked) revert Reentrancy();
        _locked = true;
        _;
        _locked = false;
    }

    // ------------------------------------------------------------------ views

    function batch(uint64 batchId) external view returns (Batch memory) {
        if (batchId > batchCount) revert UnknownBatch(batchId);
        return _batches[batchId];
    }

    /// The L2 number of the last block of the live chain.
    function tipBlockNumber() external view returns (uint64) {
        Batch storage t = _batches[tip];
        return t.firstBlock + t.blockCount - 1;
    }

    /// The hash a challenger commits to before revealing a challenge.
    function challengeCommitment(
        address challenger,
        uint64 batchId,
        uint256 blockIndex,
        bytes32 postStateRoot,
        uint256 gasUsed,
        bytes32 traceHash,
        bytes32 salt
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(challenger, batchId, blockIndex, postStateRoot, gasUsed, traceHash, salt));
    }

    // ------------------------------------------------------------------ proposing

    /// Proposes `blocks` (each an encoded BlockInputs) with their checkpoints on top of `parent`,
    /// which must be the tip. Every block's `l1_anchor` must be the hash of L1 block
    /// `anchorBlock`, one of the 256 most recent. `msg.value` must be exactly the proposer bond.
    /// Any caller may propose; the data is emitted in `BatchData`, the bond belongs to the caller.
    function propose(uint64 parent, uint64 anchorBlock, bytes[] calldata blocks, Checkpoint[] calldata checkpoints)
        external
        payable
        returns (uint64 batchId)
    {
        if (msg.value != PROPOSER_BOND) revert WrongBond(msg.value, PROPOSER_BOND);
        if (parent != tip) revert ParentNotTip(parent, tip);
        if (pendingCount >= MAX_PENDING_BATCHES) revert TooManyPendingBatches(MAX_PENDING_BATCHES);
        uint256 n = blocks.length;
        if (n == 0 || n > MAX_BLOCKS_PER_BATCH || n != checkpoints.length) {
            revert BadBatchSize(n, checkpoints.length);
        }
        bytes32 anchor = _anchor(anchorBlock);
        Batch storage p = _batches[parent];
        uint64 number = p.firstBlock + p.blockCount;
        uint64 timestamp = p.lastTimestamp;
        bytes32 blockHash = p.lastBlockHash;
        bytes32[] memory hashes = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            timestamp = _checkBlock(i, blocks[i], number, timestamp, anchor);
            Checkpoint calldata cp = checkpoints[i];
            if (keccak256(blocks[i]) != cp.inputCommitment) revert InputCommitmentMismatch(i);
            if (cp.gasUsed > uint64(bytes8(blocks[i][IN_GAS_LIMIT:IN_GAS_LIMIT + 8]))) revert GasUsedAboveLimit(i);
            blockHash = _headerHash(blockHash, number, cp.inputCommitment, cp.postStateRoot, cp.gasUsed);
            hashes[i] = blockHash;
            number++;
        }
        batchId = ++batchCount;
        Batch storage b = _batches[batchId];
        b.proposer = msg.sender;
        b.proposedAt = uint64(block.number);
        b.status = Status.Pending;
        b.parent = parent;
        b.firstBlock = p.firstBlock + p.blockCount;
        b.blockCount = uint64(n);
        b.lastTimestamp = timestamp;
        b.checkpointsRoot = _merkleRoot(hashes);
        b.lastBlockHash = blockHash;
        b.lastStateRoot = checkpoints[n - 1].postStateRoot;
        b.bond = msg.value;
        tip = batchId;
        pendingCount++;
        emit BatchData(batchId, blocks, checkpoints);
        emit BatchProposed(
            batchId, parent, msg.sender, b.firstBlock, uint64(n), blockHash, b.lastStateRoot, b.checkpointsRoot
        );
    }

    function _anchor(uint64 anchorBlock) private view returns (bytes32 anchor) {
        if (anchorBlock >= block.number || block.number - anchorBlock > 256) {
            revert StaleAnchor(anchorBlock, block.number);
        }
        anchor = blockhash(anchorBlock);
        if (anchor == bytes32(0)) revert StaleAnchor(anchorBlock, block.number);
    }

    /// Checks one block's inputs against the rules of docs/protocol.md; returns its timestamp.
    function _checkBlock(uint256 i, bytes calldata inputs, uint64 number, uint64 previous, bytes32 anchor)
        private
        view
        returns (uint64 timestamp)
    {
        _checkFraming(i, inputs);
        uint64 found = uint64(bytes8(inputs[0:8]));
        if (found != number) revert WrongBlockNumber(i, found, number);
        timestamp = uint64(bytes8(inputs[IN_TIMESTAMP:IN_TIMESTAMP + 8]));
        if (timestamp < previous) revert TimestampDecreasing(i, timestamp, previous);
        if (timestamp > block.timestamp) revert TimestampInFuture(i, timestamp, block.timestamp);
        if (uint256(timestamp) + MAX_TIMESTAMP_LAG < block.timestamp) {
            revert TimestampTooOld(i, timestamp, block.timestamp);
        }
        uint64 gasLimit = uint64(bytes8(inputs[IN_GAS_LIMIT:IN_GAS_LIMIT + 8]));
        if (gasLimit == 0 || gasLimit > MAX_L2_GAS_LIMIT) revert GasLimitOutOfRange(i, gasLimit, MAX_L2_GAS_LIMIT);
        bytes32 a = bytes32(inputs[IN_ANCHOR:IN_ANCHOR + 32]);
        if (a != anchor) revert WrongAnchor(i, a, anchor);
    }

    /// The transaction framing: tx_count length-prefixed transactions, nothing after them.
    function _checkFraming(uint256 i, bytes calldata inputs) private pure {
        if (inputs.length < IN_FIXED_LEN) revert MalformedBlockInputs(i);
        if (inputs.length > MAX_BLOCK_INPUT_BYTES) {
            revert BlockInputsTooLarge(i, inputs.length, MAX_BLOCK_INPUT_BYTES);
        }
        uint256 count = uint32(bytes4(inputs[IN_TX_COUNT:IN_TX_COUNT + 4]));
        if (count > MAX_TXS_PER_BLOCK) revert TooManyTransactions(i, count, MAX_TXS_PER_BLOCK);
        uint256 pos = IN_FIXED_LEN;
        for (uint256 t = 0; t < count; t++) {
            if (pos + 4 > inputs.length) revert MalformedBlockInputs(i);
            pos += 4 + uint32(bytes4(inputs[pos:pos + 4]));
        }
        if (pos != inputs.length) revert MalformedBlockInputs(i);
    }

    function _headerHash(bytes32 parentHash, uint64 number, bytes32 inputCommitment, bytes32 stateRoot, uint256 gasUsed)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(parentHash, uint256(number), inputCommitment, stateRoot, gasUsed));
    }

    /// The Merkle root of `leaves` (docs/protocol.md, "Checkpoints"): the leaves padded with
    /// zero words to the next power of two, each node `keccak256(left ‖ right)`; one leaf is
    /// its own root. Overwrites `leaves`.
    function _merkleRoot(bytes32[] memory leaves) private pure returns (bytes32) {
        uint256 width = leaves.length;
        while (width > 1) {
            uint256 half = (width + 1) / 2;
            for (uint256 i = 0; i < half; i++) {
                bytes32 left = leaves[2 * i];
                bytes32 right = 2 * i + 1 < width ? leaves[2 * i + 1] : bytes32(0);
                leaves[i] = _node(left, right);
            }
            width = half;
        }
        return leaves[0];
    }

    /// Number of levels above `count` leaves: the length of every path of the batch.
    function _depth(uint256 count) private pure returns (uint256 depth) {
        while ((uint256(1) << depth) < count) depth++;
    }

    function _node(bytes32 left, bytes32 right) private pure returns (bytes32 parent) {
        assembly ("memory-safe") {
            mstore(0x00, left)
            mstore(0x20, right)
            parent := keccak256(0x00, 0x40)
        }
    }

    // ------------------------------------------------------------------ finalizing

    /// Finalizes the batch after the last final one once its challenge window has passed.
    function finalize(uint64 batchId) external {
        Batch storage b = _pending(batchId);
        if (b.parent != lastFinalized) revert NotNextToFinalize(batchId, lastFinalized);
        uint256 closes = uint256(b.proposedAt) + CHALLENGE_WINDOW;
        if (block.number <= closes) revert ChallengeWindowOpen(batchId, closes);
        b.status = Status.Finalized;
        lastFinalized = batchId;
        pendingCount--;
        uint256 bond = b.bond;
        b.bond = 0;
        _credit(b.proposer, bond);
        emit BatchFinalized(batchId, b.lastBlockHash, b.lastStateRoot);
    }

    function _pending(uint64 batchId) private view returns (Batch storage b) {
        if (batchId == 0 || batchId > batchCount) revert UnknownBatch(batchId);
        b = _batches[batchId];
        if (b.status != Status.Pending) revert BatchNotPending(batchId, b.status);
    }

    // ------------------------------------------------------------------ challenging

    function depositChallengerBond() external payable {
        challengerBond[msg.sender] += msg.value;
        emit ChallengerBondDeposited(msg.sender, msg.value, challengerBond[msg.sender]);
    }

    /// Withdraws challenger bond not locked by open commitments.
    function withdrawChallengerBond(uint256 amount) external nonReentrant {
        uint256 bond = challengerBond[msg.sender];
        uint256 locked = openCommitments[msg.sender] * CHALLENGER_BOND;
        if (amount == 0 || amount > bond || bond - amount < locked) {
            revert InsufficientChallengerBond(bond, locked + amount);
        }
        challengerBond[msg.sender] = bond - amount;
        emit ChallengerBondWithdrawn(msg.sender, amount, bond - amount);
        _send(msg.sender, amount);
    }

    /// Step 1: commit to a challenge. Each open commitment locks one challenger bond.
    function commitChallenge(bytes32 commitment) external {
        uint256 required = (openCommitments[msg.sender] + 1) * CHALLENGER_BOND;
        if (challengerBond[msg.sender] < required || challengerBond[msg.sender] == 0) {
            revert InsufficientChallengerBond(challengerBond[msg.sender], required);
        }
        if (commitments[msg.sender][commitment] != 0) revert CommitmentExists(commitment);
        commitments[msg.sender][commitment] = uint64(block.number);
        openCommitments[msg.sender]++;
        emit ChallengeCommitted(commitment, msg.sender);
    }

    function cancelCommitment(bytes32 commitment) external {
        if (commitments[msg.sender][commitment] == 0) revert UnknownCommitment(commitment);
        _closeCommitment(commitment, msg.sender);
        emit CommitmentCancelled(commitment, msg.sender);
    }

    function _closeCommitment(bytes32 commitment, address challenger) private {
        delete commitments[challenger][commitment];
        openCommitments[challenger]--;
    }

    /// Step 2, in a later block: prove that block `blockIndex` of batch `batchId` has the
    /// transition `(postStateRoot, gasUsed)`, which differs from the proposer's checkpoint.
    /// `claimed` is that block's L2 header as proposed, `proof` its Merkle path to the batch's
    /// `checkpointsRoot`, and `parent` the header before it (the previous block of the batch, or
    /// the parent batch's last block), whose state root is the agreed pre-state. `trace` is the
    /// one-block EXECUTE trace. The calldata does not grow with the batch beyond the path.
    function challenge(
        uint64 batchId,
        uint256 blockIndex,
        Header calldata parent,
        Header calldata claimed,
        bytes32[] calldata proof,
        bytes32 postStateRoot,
        uint256 gasUsed,
        bytes calldata trace,
        bytes32 salt
    ) external nonReentrant {
        Batch storage b = _pending(batchId);
        uint256 closes = uint256(b.proposedAt) + CHALLENGE_WINDOW;
        if (block.number > closes) revert ChallengeWindowClosed(batchId, closes);
        bytes32 commitment =
            challengeCommitment(msg.sender, batchId, blockIndex, postStateRoot, gasUsed, keccak256(trace), salt);
        uint64 committedAt = commitments[msg.sender][commitment];
        if (committedAt == 0) revert UnknownCommitment(commitment);
        if (committedAt >= block.number) revert CommitmentTooRecent(commitment, committedAt);
        if (blockIndex >= b.blockCount) revert BlockIndexOutOfRange(blockIndex, b.blockCount);
        if (!_inBatch(b, blockIndex, keccak256(abi.encode(claimed)), proof)) {
            revert CheckpointNotInBatch(batchId, blockIndex);
        }
        bytes32 parentHash = keccak256(abi.encode(parent));
        if (parentHash != claimed.parentHash) revert WrongParentHeader(parentHash, claimed.parentHash);
        if (claimed.stateRoot == postStateRoot && claimed.gasUsed == gasUsed) revert ClaimNotDisputed();
        _checkTrace(trace, parentHash, claimed.inputCommitment);
        _prove(parent.stateRoot, postStateRoot, trace, gasUsed);
        _closeCommitment(commitment, msg.sender);
        _convict(batchId, blockIndex, postStateRoot, gasUsed);
    }

    /// Whether `leaf` is block `index` of the batch: its path, exactly as long as the batch's
    /// tree is deep, leads to the stored root.
    function _inBatch(Batch storage b, uint256 index, bytes32 leaf, bytes32[] calldata proof)
        private
        view
        returns (bool)
    {
        if (proof.length != _depth(b.blockCount)) return false;
        bytes32 node = leaf;
        for (uint256 level = 0; level < proof.length; level++) {
            node = (index >> level) & 1 == 0 ? _node(node, proof[level]) : _node(proof[level], node);
        }
        return node == b.checkpointsRoot;
    }

    /// The trace must be for this chain, start at `parentHash` and carry exactly the one block
    /// whose inputs hash to the committed input commitment.
    function _checkTrace(bytes calldata trace, bytes32 parentHash, bytes32 inputCommitment) private view {
        if (trace.length < TRACE_FIRST_BLOCK || uint8(trace[0]) != 1) revert MalformedTrace();
        uint64 chainId = uint64(bytes8(trace[1:9]));
        if (chainId != CHAIN_ID) revert TraceWrongChain(chainId);
        bytes32 parent = bytes32(trace[9:41]);
        if (parent != parentHash) revert TraceWrongParent(parent, parentHash);
        uint256 count = uint16(bytes2(trace[41:43]));
        if (count != 1) revert TraceNotOneBlock(count);
        uint256 end = TRACE_FIRST_BLOCK + uint32(bytes4(trace[43:47]));
        if (end > trace.length) revert MalformedTrace();
        bytes32 inputs = keccak256(trace[TRACE_FIRST_BLOCK:end]);
        if (inputs != inputCommitment) revert TraceInputsMismatch(inputs, inputCommitment);
    }

    /// Only a positive EXECUTE answer proves anything; "no" and failure both revert.
    function _prove(bytes32 preRoot, bytes32 postRoot, bytes calldata trace, uint256 gasUsed) private view {
        (bool ok, bytes memory out) = EXECUTE.staticcall(abi.encode(preRoot, postRoot, trace, gasUsed));
        if (!ok || out.length != 32 || abi.decode(out, (uint256)) != 1) revert TransitionNotProven();
    }

    /// Invalidates the convicted batch and every batch built on it (all of them lie on the live
    /// chain between the tip and the convicted batch), slashes the convicted bond and returns
    /// the others' bonds to their proposers.
    function _convict(uint64 batchId, uint256 blockIndex, bytes32 postStateRoot, uint256 gasUsed) private {
        uint64 id = tip;
        while (id != batchId) {
            Batch storage d = _batches[id];
            d.status = Status.Invalidated;
            uint256 refund = d.bond;
            d.bond = 0;
            _credit(d.proposer, refund);
            emit BatchInvalidated(id, batchId);
            id = d.parent;
            pendingCount--;
        }
        Batch storage b = _batches[batchId];
        b.status = Status.Invalidated;
        tip = b.parent;
        pendingCount--;
        uint256 bond = b.bond;
        b.bond = 0;
        uint256 reward = bond * REWARD_BPS / BPS;
        totalBurned += bond - reward;
        _credit(msg.sender, reward);
        emit BatchInvalidated(batchId, batchId);
        emit ProposerConvicted(batchId, blockIndex, msg.sender, postStateRoot, gasUsed, reward, bond - reward);
    }

    // ------------------------------------------------------------------ payouts

    function _credit(address account, uint256 amount) private {
        if (amount == 0) return;
        credits[account] += amount;
        emit Credited(account, amount, credits[account]);
    }

    /// Pays out everything credited to the caller (returned bonds, rewards).
    function withdraw() external nonReentrant {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        credits[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
