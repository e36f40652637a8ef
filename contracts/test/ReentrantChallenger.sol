// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// Test-only: a challenger that is a contract and tries, when paid, to be paid again by
/// re-entering the function that paid it. Used by tests/rollup_contract.rs.
contract ReentrantChallenger {
    address public immutable owner;
    address public target;
    bytes public reentry;
    uint256 public reentryAttempts;
    uint256 public reentrySucceeded;

    constructor() {
        owner = msg.sender;
    }

    /// Forwards a call (with value) to `to`; bubbles up a revert.
    function exec(address to, bytes calldata data) external payable returns (bytes memory) {
        require(msg.sender == owner, "owner only");
        (bool ok, bytes memory out) = to.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(out, 32), mload(out))
            }
        }
        return out;
    }

    /// Arms the reentry: on the next payment, call `to` with `data` once more.
    function arm(address to, bytes calldata data) external {
        require(msg.sender == owner, "owner only");
        target = to;
        reentry = data;
    }

    receive() external payable {
        if (target == address(0)) return;
        address to = target;
        target = address(0);
        reentryAttempts++;
        (bool ok,) = to.call(reentry);
        if (ok) reentrySucceeded++;
    }
}
