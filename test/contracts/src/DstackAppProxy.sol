// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.24;

/// The per-app contract the factory creates: a minimal delegating proxy in front of the shared
/// DstackApp implementation, as upstream does with ERC1967Proxy. Keeping a proxy (rather than
/// deploying the whole DstackApp per app) is what keeps a factory deploy near the real ~0.25M gas
/// and gives the same `Upgraded` first log. Not upgradeable: tests never need it.
contract DstackAppProxy {
    /// The ERC-1967 implementation slot, so reading an app's implementation with
    /// eth_getStorageAt works as on the real chain.
    bytes32 internal constant IMPLEMENTATION_SLOT =
        0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;

    event Upgraded(address indexed implementation);

    constructor(address implementation, bytes memory initData) {
        assembly {
            sstore(IMPLEMENTATION_SLOT, implementation)
        }
        emit Upgraded(implementation);
        (bool ok, bytes memory ret) = implementation.delegatecall(initData);
        if (!ok) {
            // Bubble the initializer's revert data up unchanged, like OZ's ERC1967Utils.
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    fallback() external {
        assembly {
            let impl := sload(IMPLEMENTATION_SLOT)
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), impl, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }
}
