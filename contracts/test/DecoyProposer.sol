// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// Test-only: a proposer whose transaction calldata lies about the batch it proposes. Used by
/// the red-team tests (tests/rollup_attacks.rs, tests/common/red_team.rs) two ways:
///
/// - as the EIP-7702 delegate of an EOA: the EOA stages the real `propose` call, then sends
///   itself a well-formed `propose` of other blocks; this code ignores those arguments and
///   makes the staged call, so `msg.sender == tx.origin` at the rollup while the transaction's
///   calldata shows a different batch;
/// - as a plain contract proposer, through `forward`.
///
/// Nothing here restricts who may call: it is a test fixture, not a wallet.
contract DecoyProposer {
    /// Same field types as `NativeRollup.Checkpoint`: the selector depends only on the types.
    struct Checkpoint {
        bytes32 inputCommitment;
        bytes32 postStateRoot;
        uint256 gasUsed;
    }

    /// Same field types as `NativeRollup.Cut`.
    struct Cut {
        uint256 blockIndex;
        uint256 endTx;
        bytes32 stateRoot;
        uint256 gasUsed;
    }

    /// The call `propose` makes (in an EOA's own storage when this is its 7702 delegate).
    address public stagedTarget;
    bytes public stagedData;

    /// Stores the call that the next `propose` makes instead of its own arguments.
    function stage(address target, bytes calldata data) external {
        stagedTarget = target;
        stagedData = data;
    }

    /// The rollup's `propose` selector. Ignores its arguments: calls the staged target with the
    /// staged data and `msg.value`, and returns what it returned or bubbles up its revert.
    function propose(uint64, uint64, bytes[] calldata, Checkpoint[] calldata, Cut[] calldata) external payable {
        bytes memory out = _call(stagedTarget, stagedData, msg.value);
        assembly {
            return(add(out, 32), mload(out))
        }
    }

    /// Calls `target` with `data` and `msg.value`; bubbles up a revert.
    function forward(address target, bytes calldata data) external payable returns (bytes memory) {
        return _call(target, data, msg.value);
    }

    receive() external payable {}

    function _call(address target, bytes memory data, uint256 value) private returns (bytes memory out) {
        bool ok;
        (ok, out) = target.call{value: value}(data);
        if (!ok) {
            assembly {
                revert(add(out, 32), mload(out))
            }
        }
    }
}
