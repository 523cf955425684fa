// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.24;

import {Ownable} from "./Ownable.sol";

/// The per-app policy contract (upstream "DstackApp", formerly "AppAuth"), 2026-02 interface:
/// both initializers, `requireTcbUpToDate`, `version() == 2`, one-step ownership. It runs behind
/// a DstackAppProxy; all storage below lives in the proxy.
contract DstackApp is Ownable {
    // Owner, init flag and policy flags each get a slot of their own, as upstream's do (OZ keeps
    // Ownable and Initializable in separate slots), so a deploy writes as many fresh slots and
    // costs about the same gas; e.g. allowAnyDevice=true costs a fresh 20k write there too.
    // A uint256 so that solc packs it neither into the owner's slot nor with the flags.
    uint256 private _initializedVersion;
    mapping(bytes32 => bool) public allowedComposeHashes;
    mapping(bytes32 => bool) public allowedDeviceIds;
    bool public allowAnyDevice;
    bool public requireTcbUpToDate;
    bool private _upgradesDisabled;

    event ComposeHashAdded(bytes32 composeHash);
    event ComposeHashRemoved(bytes32 composeHash);
    event DeviceAdded(bytes32 deviceId);
    event DeviceRemoved(bytes32 deviceId);
    event AllowAnyDeviceSet(bool allowAny);
    event RequireTcbUpToDateSet(bool requireUpToDate);
    event UpgradesDisabled();
    event Initialized(uint64 version);

    error InvalidInitialization();

    constructor() {
        // Lock the shared implementation so nobody can initialize (and own) it directly.
        _initializedVersion = type(uint64).max;
    }

    /// 6-arg initializer (0x9ed28193): what both factory overloads call since 2026-02.
    function initialize(
        address initialOwner,
        bool _disableUpgrades,
        bool _requireTcbUpToDate,
        bool _allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) external {
        _initialize(
            initialOwner, _disableUpgrades, _requireTcbUpToDate, _allowAnyDevice, initialDeviceId, initialComposeHash
        );
    }

    /// 5-arg initializer (0x187515ca) of the 2025-07 releases.
    function initialize(
        address initialOwner,
        bool _disableUpgrades,
        bool _allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) external {
        _initialize(initialOwner, _disableUpgrades, false, _allowAnyDevice, initialDeviceId, initialComposeHash);
    }

    function addComposeHash(bytes32 composeHash) external onlyOwner {
        // Idempotent and always logs, like upstream: a re-add is a cheap no-op write plus the event.
        allowedComposeHashes[composeHash] = true;
        emit ComposeHashAdded(composeHash);
    }

    function removeComposeHash(bytes32 composeHash) external onlyOwner {
        allowedComposeHashes[composeHash] = false;
        emit ComposeHashRemoved(composeHash);
    }

    function addDevice(bytes32 deviceId) external onlyOwner {
        allowedDeviceIds[deviceId] = true;
        emit DeviceAdded(deviceId);
    }

    function removeDevice(bytes32 deviceId) external onlyOwner {
        allowedDeviceIds[deviceId] = false;
        emit DeviceRemoved(deviceId);
    }

    function setAllowAnyDevice(bool allowAny) external onlyOwner {
        allowAnyDevice = allowAny;
        emit AllowAnyDeviceSet(allowAny);
    }

    function setRequireTcbUpToDate(bool requireUpToDate) external onlyOwner {
        requireTcbUpToDate = requireUpToDate;
        emit RequireTcbUpToDateSet(requireUpToDate);
    }

    /// One-way, as upstream; there is no upgrade path in this mirror, so it only records the flag.
    function disableUpgrades() external onlyOwner {
        _upgradesDisabled = true;
        emit UpgradesDisabled();
    }

    /// Capability detection: 2 marks the 2026-02 interface (6-arg initializer, TCB flag).
    function version() external pure returns (uint256) {
        return 2;
    }

    function _initialize(
        address initialOwner,
        bool _disableUpgrades,
        bool _requireTcbUpToDate,
        bool _allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) private {
        if (_initializedVersion != 0) revert InvalidInitialization();
        _initializedVersion = 1;
        require(initialOwner != address(0), "invalid owner address");
        _upgradesDisabled = _disableUpgrades;
        requireTcbUpToDate = _requireTcbUpToDate;
        allowAnyDevice = _allowAnyDevice;
        // Log order observed on the real contracts: DeviceAdded, ComposeHashAdded,
        // OwnershipTransferred, Initialized. Zero values are skipped without a log.
        if (initialDeviceId != bytes32(0)) {
            allowedDeviceIds[initialDeviceId] = true;
            emit DeviceAdded(initialDeviceId);
        }
        if (initialComposeHash != bytes32(0)) {
            allowedComposeHashes[initialComposeHash] = true;
            emit ComposeHashAdded(initialComposeHash);
        }
        _transferOwnership(initialOwner);
        emit Initialized(1);
    }
}
