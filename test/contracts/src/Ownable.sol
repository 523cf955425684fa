// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.24;

/// One-step ownership with OpenZeppelin v5's externally visible surface: the same function
/// selectors, the same `OwnershipTransferred` event and the same custom errors, so a non-owner
/// call reverts with `OwnableUnauthorizedAccount(caller)` (0x118cdaa7) and no revert string.
/// One-step on purpose: the pre-2026-05 releases (what the SDK expects) used plain Ownable.
/// `transferOwnership` and `_transferOwnership` are virtual for DstackAppTwoStep (Ownable2Step).
abstract contract Ownable {
    address private _owner;

    error OwnableUnauthorizedAccount(address account);
    error OwnableInvalidOwner(address owner);

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    modifier onlyOwner() {
        if (msg.sender != _owner) revert OwnableUnauthorizedAccount(msg.sender);
        _;
    }

    function owner() public view returns (address) {
        return _owner;
    }

    function transferOwnership(address newOwner) public virtual onlyOwner {
        if (newOwner == address(0)) revert OwnableInvalidOwner(address(0));
        _transferOwnership(newOwner);
    }

    function renounceOwnership() public onlyOwner {
        _transferOwnership(address(0));
    }

    function _transferOwnership(address newOwner) internal virtual {
        address previous = _owner;
        _owner = newOwner;
        emit OwnershipTransferred(previous, newOwner);
    }
}
