// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.24;

import {DstackApp} from "./DstackApp.sol";

/// DstackApp with two-step ownership, as upstream from 2026-05 (OpenZeppelin v5's
/// Ownable2StepUpgradeable): `transferOwnership` only stages `pendingOwner` and emits
/// `OwnershipTransferStarted`; the pending owner's `acceptOwnership` completes the hand-over
/// (`OwnershipTransferred`). Anything else is DstackApp's. Tests select it by pointing the KMS
/// at it (`setAppImplementation`), or with the anvil harness's `two_step_ownership` option.
contract DstackAppTwoStep is DstackApp {
    address private _pendingOwner;

    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);

    function pendingOwner() public view returns (address) {
        return _pendingOwner;
    }

    /// As OpenZeppelin v5: no zero check here (address(0) cancels a pending transfer).
    function transferOwnership(address newOwner) public override onlyOwner {
        _pendingOwner = newOwner;
        emit OwnershipTransferStarted(owner(), newOwner);
    }

    function acceptOwnership() external {
        if (msg.sender != _pendingOwner) revert OwnableUnauthorizedAccount(msg.sender);
        _transferOwnership(msg.sender);
    }

    /// Every completed hand-over (acceptOwnership, renounceOwnership, the initializer) clears
    /// the pending owner, as upstream.
    function _transferOwnership(address newOwner) internal override {
        delete _pendingOwner;
        super._transferOwnership(newOwner);
    }
}
