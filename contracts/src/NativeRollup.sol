// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title NativeRollup
/// @notice The L1 side of an optimistic native rollup (docs/protocol.md, "Rollup contract").
///
/// A proposer posts a batch of L2 blocks (their inputs, which the contract checks and emits in
/// a `BatchData` log) with one checkpoint per block: the block's input commitment, its
/// post-state root and its gas used. A block runs as up to 16 consecutive segments (protocol
/// v3, docs/protocol.md "Segments"), so the proposer also posts a cut after every segment of a
/// block but its last: where the segment ended, the state root and the block's gas used there.
/// The contract chains the checkpoints into L2 block headers and keeps one Merkle root over the
/// batch's leaves, each block's cut leaves followed by its header, so a challenge carries two
/// leaves and their paths, whatever the batch's length. A batch extends the live chain's tip
/// and carries a bond. During the challenge window anyone registered as a challenger may prove
/// one leaf wrong, in one transaction, by having the EXECUTE precompile confirm a different
/// outcome of exactly that segment of the block's committed inputs from the previous leaf's
/// state. A proven batch and every batch built on it are invalidated, its bond slashed (part
/// to the challenger, the rest burned: locked here forever). After the window a batch whose
/// parent is final becomes final and its bond returns to the proposer.
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

    /// The state after one segment of block `blockIndex` of a batch, other than its last:
    /// `endTx` is the first transaction the segment did not consider, `gasUsed` the block's
    /// gas used up to there (earlier segments included).
    struct Cut {
        uint256 blockIndex;
        uint256 endTx;
        bytes32 stateRoot;
        uint256 gasUsed;
    }

    /// One leaf of a batch tree as a challenge presents it. A cut leaf (`cut`) is segment
    /// `segment` of the block ending at `endTx`; a block's last leaf is its L2 header
    /// (docs/protocol.md, "L2 header and block hash"), with `segment` and `endTx` zero.
    /// `parentHash`, `number` and `inputCommitment` are the block's own in both.
    struct Leaf {
        bytes32 parentHash;
        uint256 number;
        bytes32 inputCommitment;
        uint256 segment;
        uint256 endTx;
        bytes32 stateRoot;
        uint256 gasUsed;
        bool cut;
    }

    /// Where the segment a challenge disputes starts, and the agreed state it starts from.
    struct SegmentStart {
        uint256 index;
        uint256 startTx;
        uint256 gasBefore;
        bytes32 preStateRoot;
    }

    enum Status {
        None,
        Pending,
        Finalized,
        Invalidated
    }

    /// A batch as stored: 7 slots.
    struct Batch {
        address proposer;
        uint64 proposedAt; // L1 block number of the proposal
        Status status;
        uint64 parent; // batch id this batch extends (0: genesis)
        uint64 firstBlock; // L2 number of the first block
        uint64 blockCount;
        uint64 lastTimestamp; // L2 timestamp of the last block
        uint64 leafCount; // leaves of the batch tree: blocks plus cuts
        bytes32 checkpointsRoot; // Merkle root of the batch's leaves (`_merkleRoot`)
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
    error BadCut(uint256 index);
    error UnknownBatch(uint64 batchId);
    error BatchNotPending(uint64 batchId, Status status);
    error ChallengeWindowOpen(uint64 batchId, uint256 closesAfter);
    error ChallengeWindowClosed(uint64 batchId, uint256 closedAfter);
    error NotNextToFinalize(uint64 batchId, uint64 lastFinalized);
    error InsufficientChallengerBond(uint256 bond, uint256 required);
    error CommitmentExists(bytes32 commitment);
    error UnknownCommitment(bytes32 commitment);
    error CommitmentTooRecent(bytes32 commitment, uint256 committedAt);
    error LeafIndexOutOfRange(uint256 index, uint256 leaves);
    error CheckpointNotInBatch(uint64 batchId, uint256 index);
    error MalformedLeaf();
    error WrongPrevious();
    error WrongParentHeader(bytes32 found, bytes32 expected);
    error MalformedTrace();
    error TraceWrongChain(uint64 found);
    error TraceWrongParent(bytes32 found, bytes32 expected);
    error TraceWrongSegment();
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
    event BatchData(uint64 indexed batchId, bytes[] blocks, Checkpoint[] checkpoints, Cut[] cuts);
    event BatchProposed(
        uint64 indexed batchId,
        uint64 indexed parent,
        address indexed proposer,
        uint64 firstBlock,
        uint64 blockCount,
        bytes32 lastBlockHash,
        bytes32 lastStateRoot,
        bytes32 checkpointsRoot,
        uint64 leafCount
    );
    event BatchFinalized(uint64 indexed batchId, bytes32 lastBlockHash, bytes32 lastStateRoot);
    event BatchInvalidated(uint64 indexed batchId, uint64 indexed convictedBatch);
    event ChallengeCommitted(bytes32 indexed commitment, address indexed challenger);
    event CommitmentCancelled(bytes32 indexed commitment, address indexed challenger);
    event ProposerConvicted(
        uint64 indexed batchId,
        uint256 indexed leafIndex,
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
    /// Offsets inside an encoded trace, version 2 (docs/protocol.md, "Trace layout").
    uint8 private constant TRACE_VERSION = 2;
    uint256 private constant TRACE_CHAIN_ID = 1;
    uint256 private constant TRACE_PARENT = 9;
    uint256 private constant TRACE_SEGMENT = 41;
    uint256 private constant TRACE_START_TX = 43;
    uint256 private constant TRACE_GAS_BEFORE = 47;
    uint256 private constant TRACE_END_TX = 55;
    uint256 private constant TRACE_BLOCK_COUNT = 59;
    /// Offset of the first block's length prefix, and of its payload (61 + the 4-byte length).
    uint256 private constant TRACE_FIRST_LEN = 61;
    uint256 private constant TRACE_FIRST_BLOCK = 65;
    uint256 private constant BPS = 10_000;

    /// Protocol v2 (docs/protocol.md, "Witness budget"): the largest encoded BlockInputs and
    /// the most transactions one block may frame. The first keeps every block's trace under
    /// the proof-size bound even when none of its transactions runs; the second bounds
    /// EXECUTE's per-transaction charge (5,000 gas each) inside one L1 transaction.
    uint256 public constant MAX_BLOCK_INPUT_BYTES = 65_536;
    uint256 public constant MAX_TXS_PER_BLOCK = 1_024;
    /// Protocol v3: a block runs as at most 16 segments, so it has at most 15 cuts.
    uint256 public constant MAX_CUTS_PER_BLOCK = 15;

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
        genesis.leafCount = 1;
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
        uint256 leafIndex,
        bytes32 postStateRoot,
        uint256 gasUsed,
        bytes32 traceHash,
        bytes32 salt
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(challenger, batchId, leafIndex, postStateRoot, gasUsed, traceHash, salt));
    }

    // ------------------------------------------------------------------ proposing

    /// Proposes `blocks` (each an encoded BlockInputs) with their checkpoints and `cuts` on top
    /// of `parent`, which must be the tip. Every block's `l1_anchor` must be the hash of L1
    /// block `anchorBlock`, one of the 256 most recent. `msg.value` must be exactly the proposer
    /// bond. Any caller may propose; the data is emitted in `BatchData`, the bond belongs to the
    /// caller.
    ///
    /// `cuts` are sorted by block, at most `MAX_CUTS_PER_BLOCK` per block, and a block's cuts
    /// end strictly inside it in increasing order (1 <= endTx < its transaction count), each
    /// with gasUsed within its gas limit. The batch tree's leaves are, block after block, the
    /// block's cut leaves (`_cutHash`, cut k of the block being segment k) then its header.
    function propose(
        uint64 parent,
        uint64 anchorBlock,
        bytes[] calldata blocks,
        Checkpoint[] calldata checkpoints,
        Cut[] calldata cuts
    ) external payable returns (uint64 batchId) {
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
        bytes32[] memory leaves = new bytes32[](n + cuts.length);
        uint256 leafCount;
        uint256 nextCut;
        for (uint256 i = 0; i < n; i++) {
            timestamp = _checkBlock(i, blocks[i], number, timestamp, anchor);
            Checkpoint calldata cp = checkpoints[i];
            if (keccak256(blocks[i]) != cp.inputCommitment) revert InputCommitmentMismatch(i);
            uint64 gasLimit = uint64(bytes8(blocks[i][IN_GAS_LIMIT:IN_GAS_LIMIT + 8]));
            if (cp.gasUsed > gasLimit) revert GasUsedAboveLimit(i);
            uint256 first = nextCut;
            nextCut = _checkCuts(cuts, first, i, uint32(bytes4(blocks[i][IN_TX_COUNT:IN_TX_COUNT + 4])), gasLimit);
            for (uint256 c = first; c < nextCut; c++) {
                Cut calldata cut = cuts[c];
                leaves[leafCount++] =
                    _cutHash(blockHash, number, cp.inputCommitment, c - first, cut.endTx, cut.stateRoot, cut.gasUsed);
            }
            blockHash = _headerHash(blockHash, number, cp.inputCommitment, cp.postStateRoot, cp.gasUsed);
            leaves[leafCount++] = blockHash;
            number++;
        }
        // Each block consumed its own cuts in order: any left were out of order or past the end.
        if (nextCut != cuts.length) revert BadCut(nextCut);
        batchId = ++batchCount;
        Batch storage b = _batches[batchId];
        b.proposer = msg.sender;
        b.proposedAt = uint64(block.number);
        b.status = Status.Pending;
        b.parent = parent;
        b.firstBlock = p.firstBlock + p.blockCount;
        b.blockCount = uint64(n);
        b.lastTimestamp = timestamp;
        b.leafCount = uint64(leafCount);
        b.checkpointsRoot = _merkleRoot(leaves);
        b.lastBlockHash = blockHash;
        b.lastStateRoot = checkpoints[n - 1].postStateRoot;
        b.bond = msg.value;
        tip = batchId;
        pendingCount++;
        emit BatchData(batchId, blocks, checkpoints, cuts);
        emit BatchProposed(
            batchId,
            parent,
            msg.sender,
            b.firstBlock,
            uint64(n),
            blockHash,
            b.lastStateRoot,
            b.checkpointsRoot,
            uint64(leafCount)
        );
    }

    /// Checks block `i`'s cuts, those from `cuts[first]` on whose blockIndex is `i`: at most
    /// `MAX_CUTS_PER_BLOCK`, endTx strictly increasing within [1, txCount), gasUsed within the
    /// block's gas limit. Returns the index of the first cut after them.
    function _checkCuts(Cut[] calldata cuts, uint256 first, uint256 i, uint256 txCount, uint256 gasLimit)
        private
        pure
        returns (uint256 next)
    {
        uint256 previousEnd = 0; // a first cut must end at 1 or later
        for (next = first; next < cuts.length && cuts[next].blockIndex == i; next++) {
            Cut calldata cut = cuts[next];
            if (
                next - first == MAX_CUTS_PER_BLOCK || cut.endTx <= previousEnd || cut.endTx >= txCount
                    || cut.gasUsed > gasLimit
            ) revert BadCut(next);
            previousEnd = cut.endTx;
        }
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

    /// The L2 block hash: keccak256 of the 160-byte header (docs/protocol.md, "L2 header and
    /// block hash"); a block's last leaf.
    function _headerHash(bytes32 parentHash, uint256 number, bytes32 inputCommitment, bytes32 stateRoot, uint256 gasUsed)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(parentHash, number, inputCommitment, stateRoot, gasUsed));
    }

    /// The leaf of segment `segment` of a block that ends before the block does: its block's
    /// parent hash, number and input commitment, then the segment's end (seven words).
    function _cutHash(
        bytes32 parentHash,
        uint256 number,
        bytes32 inputCommitment,
        uint256 segment,
        uint256 endTx,
        bytes32 stateRoot,
        uint256 gasUsed
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(parentHash, number, inputCommitment, segment, endTx, stateRoot, gasUsed));
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

    /// Step 2, in a later block: prove that the segment ending at leaf `leafIndex` of batch
    /// `batchId` has the outcome `(postStateRoot, gasUsed)` and ends where `trace` says, which
    /// differs from the proposer's leaf. `claimed` is that leaf as proposed and `proof` its
    /// Merkle path to the batch's `checkpointsRoot`; `prev` is the leaf before it with its path
    /// `prevProof`, or for leaf 0 the parent batch's last header with an empty path. `prev`'s
    /// state root is the agreed pre-state, and it fixes where the segment starts: right after
    /// `prev` when `prev` is a cut of the same block, at the block's start when it is the
    /// previous block's header. `trace` is the one-block EXECUTE trace of that segment. The
    /// calldata does not grow with the batch beyond the paths.
    function challenge(
        uint64 batchId,
        uint256 leafIndex,
        Leaf calldata prev,
        bytes32[] calldata prevProof,
        Leaf calldata claimed,
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
            challengeCommitment(msg.sender, batchId, leafIndex, postStateRoot, gasUsed, keccak256(trace), salt);
        uint64 committedAt = commitments[msg.sender][commitment];
        if (committedAt == 0) revert UnknownCommitment(commitment);
        if (committedAt >= block.number) revert CommitmentTooRecent(commitment, committedAt);
        if (leafIndex >= b.leafCount) revert LeafIndexOutOfRange(leafIndex, b.leafCount);
        if (!_inBatch(b, leafIndex, _leafHash(claimed), proof)) revert CheckpointNotInBatch(batchId, leafIndex);
        SegmentStart memory start = _segmentStart(batchId, b, leafIndex, prev, prevProof, claimed);
        (uint256 traceEnd, uint256 txCount) = _checkTrace(trace, claimed.parentHash, claimed.inputCommitment, start);
        uint256 claimedEnd = claimed.cut ? claimed.endTx : txCount;
        if (claimed.stateRoot == postStateRoot && claimed.gasUsed == gasUsed && claimedEnd == traceEnd) {
            revert ClaimNotDisputed();
        }
        _prove(start.preStateRoot, postStateRoot, trace, gasUsed);
        _closeCommitment(commitment, msg.sender);
        _convict(batchId, leafIndex, postStateRoot, gasUsed);
    }

    /// The leaf's hash in the batch tree: a cut's seven words (`_cutHash`), or a block's header
    /// (`_headerHash`), which has no segment fields to carry.
    function _leafHash(Leaf calldata l) private pure returns (bytes32) {
        if (l.cut) {
            return _cutHash(l.parentHash, l.number, l.inputCommitment, l.segment, l.endTx, l.stateRoot, l.gasUsed);
        }
        if (l.segment != 0 || l.endTx != 0) revert MalformedLeaf();
        return _headerHash(l.parentHash, l.number, l.inputCommitment, l.stateRoot, l.gasUsed);
    }

    /// Where the segment of leaf `leafIndex` (`claimed`) starts, from the leaf before it. A
    /// block's leaves are consecutive and its last is its header, so the leaf before a block's
    /// first is the previous block's header (or, for leaf 0, the parent batch's last header)
    /// and the leaf before segment k > 0 is cut k - 1 of the same block.
    function _segmentStart(
        uint64 batchId,
        Batch storage b,
        uint256 leafIndex,
        Leaf calldata prev,
        bytes32[] calldata prevProof,
        Leaf calldata claimed
    ) private view returns (SegmentStart memory start) {
        start.preStateRoot = prev.stateRoot;
        bytes32 prevHash = _leafHash(prev);
        if (leafIndex == 0) {
            if (prevProof.length != 0 || prev.cut) revert WrongPrevious();
        } else if (!_inBatch(b, leafIndex - 1, prevHash, prevProof)) {
            revert CheckpointNotInBatch(batchId, leafIndex - 1);
        }
        if (prev.cut) {
            if (
                prev.parentHash != claimed.parentHash || prev.number != claimed.number
                    || prev.inputCommitment != claimed.inputCommitment
            ) revert WrongPrevious();
            start.index = prev.segment + 1;
            start.startTx = prev.endTx;
            start.gasBefore = prev.gasUsed;
        } else if (prevHash != claimed.parentHash) {
            revert WrongParentHeader(prevHash, claimed.parentHash);
        }
    }

    /// Whether `leaf` is leaf `index` of the batch: its path, exactly as long as the batch's
    /// tree is deep, leads to the stored root.
    function _inBatch(Batch storage b, uint256 index, bytes32 leaf, bytes32[] calldata proof)
        private
        view
        returns (bool)
    {
        if (proof.length != _depth(b.leafCount)) return false;
        bytes32 node = leaf;
        for (uint256 level = 0; level < proof.length; level++) {
            node = (index >> level) & 1 == 0 ? _node(node, proof[level]) : _node(proof[level], node);
        }
        return node == b.checkpointsRoot;
    }

    /// The trace must be for this chain, start at `parentHash` where the segment starts (`start`)
    /// and carry exactly the one block whose inputs hash to the committed input commitment.
    /// Returns where the trace says the segment ends and the block's transaction count.
    function _checkTrace(bytes calldata trace, bytes32 parentHash, bytes32 inputCommitment, SegmentStart memory start)
        private
        view
        returns (uint256 endTx, uint256 txCount)
    {
        if (trace.length < TRACE_FIRST_BLOCK || uint8(trace[0]) != TRACE_VERSION) revert MalformedTrace();
        uint64 chainId = uint64(bytes8(trace[TRACE_CHAIN_ID:TRACE_PARENT]));
        if (chainId != CHAIN_ID) revert TraceWrongChain(chainId);
        bytes32 parent = bytes32(trace[TRACE_PARENT:TRACE_SEGMENT]);
        if (parent != parentHash) revert TraceWrongParent(parent, parentHash);
        if (
            uint16(bytes2(trace[TRACE_SEGMENT:TRACE_START_TX])) != start.index
                || uint32(bytes4(trace[TRACE_START_TX:TRACE_GAS_BEFORE])) != start.startTx
                || uint64(bytes8(trace[TRACE_GAS_BEFORE:TRACE_END_TX])) != start.gasBefore
        ) revert TraceWrongSegment();
        endTx = uint32(bytes4(trace[TRACE_END_TX:TRACE_BLOCK_COUNT]));
        uint256 count = uint16(bytes2(trace[TRACE_BLOCK_COUNT:TRACE_FIRST_LEN]));
        if (count != 1) revert TraceNotOneBlock(count);
        uint256 end = TRACE_FIRST_BLOCK + uint32(bytes4(trace[TRACE_FIRST_LEN:TRACE_FIRST_BLOCK]));
        if (end > trace.length || end < TRACE_FIRST_BLOCK + IN_FIXED_LEN) revert MalformedTrace();
        bytes32 inputs = keccak256(trace[TRACE_FIRST_BLOCK:end]);
        if (inputs != inputCommitment) revert TraceInputsMismatch(inputs, inputCommitment);
        txCount = uint32(bytes4(trace[TRACE_FIRST_BLOCK + IN_TX_COUNT:TRACE_FIRST_BLOCK + IN_TX_COUNT + 4]));
    }

    /// Only a positive EXECUTE answer proves anything; "no" and failure both revert.
    function _prove(bytes32 preRoot, bytes32 postRoot, bytes calldata trace, uint256 gasUsed) private view {
        (bool ok, bytes memory out) = EXECUTE.staticcall(abi.encode(preRoot, postRoot, trace, gasUsed));
        if (!ok || out.length != 32 || abi.decode(out, (uint256)) != 1) revert TransitionNotProven();
    }

    /// Invalidates the convicted batch and every batch built on it (all of them lie on the live
    /// chain between the tip and the convicted batch), slashes the convicted bond and returns
    /// the others' bonds to their proposers.
    function _convict(uint64 batchId, uint256 leafIndex, bytes32 postStateRoot, uint256 gasUsed) private {
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
        emit ProposerConvicted(batchId, leafIndex, msg.sender, postStateRoot, gasUsed, reward, bond - reward);
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
