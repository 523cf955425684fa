// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.24;

import {Ownable} from "./Ownable.sol";
import {DstackAppProxy} from "./DstackAppProxy.sol";

/// The 6-arg initializer of DstackApp, named alone so abi.encodeCall can pick the overload.
interface IDstackAppInitializer {
    function initialize(
        address initialOwner,
        bool disableUpgrades,
        bool requireTcbUpToDate,
        bool allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) external;
}

/// Emits a look-alike AppDeployedViaFactory from a foreign address (knob `testSetDecoy`), to prove
/// a log parser filters by emitter and not by topic alone, which the JS SDK does not.
contract KmsDecoy {
    event AppDeployedViaFactory(address indexed appId, address indexed deployer);

    function emitFactoryEvent(address deployer) external {
        emit AppDeployedViaFactory(address(this), deployer);
    }
}

/// The KMS factory (upstream "DstackKms", formerly "KmsAuth") reduced to what deploying and
/// registering apps needs, with the 2026-02 interface and the pre-2026-07 logs (no PolicyChanged),
/// plus owner-only test knobs. Not a proxy: nothing observable depends on the KMS being one.
contract DstackKms is Ownable {
    struct TestKnobs {
        bool skipFactoryEvent; // no AppDeployedViaFactory at all
        bool doubleFactoryEvent; // AppDeployedViaFactory twice
        bool extraLogBeforeFactoryEvent; // a PolicyChanged (as HEAD emits) before it
        uint8 revertMode; // REVERT_NONE, REVERT_CUSTOM_ERROR or REVERT_EMPTY
        address decoy; // if set, KmsDecoy.emitFactoryEvent runs before the real event
    }

    uint8 internal constant REVERT_NONE = 0;
    uint8 internal constant REVERT_CUSTOM_ERROR = 1;
    uint8 internal constant REVERT_EMPTY = 2;

    address public appImplementation;
    mapping(address => bool) public registeredApps;
    // One packed slot, read once per factory call (one cold SLOAD of test-only overhead).
    TestKnobs private _knobs;

    event AppImplementationSet(address implementation);
    event AppRegistered(address appId);
    event AppDeployedViaFactory(address indexed appId, address indexed deployer);
    /// HEAD's audit event, emitted only by the `extraLogBeforeFactoryEvent` knob.
    event PolicyChanged(address indexed actor, bytes32 indexed policy, bytes32 indexed value, bool enabled);

    /// Raised by the REVERT_CUSTOM_ERROR knob: a custom error no production ABI knows.
    error TestKnobRevert(address caller);

    constructor(address initialOwner, address _appImplementation) {
        if (initialOwner == address(0)) revert OwnableInvalidOwner(address(0));
        _transferOwnership(initialOwner);
        // As upstream's initialize: a zero implementation is allowed and leaves the factory unusable.
        if (_appImplementation != address(0)) {
            appImplementation = _appImplementation;
            emit AppImplementationSet(_appImplementation);
        }
    }

    /// 5-arg factory (0x8618169d), the one the SDK and CLI call.
    function deployAndRegisterApp(
        address initialOwner,
        bool disableUpgrades,
        bool allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) external returns (address appId) {
        return _deployAndRegister(initialOwner, disableUpgrades, false, allowAnyDevice, initialDeviceId, initialComposeHash);
    }

    /// 6-arg factory (0x9cb9c31f), since 2026-02.
    function deployAndRegisterApp(
        address initialOwner,
        bool disableUpgrades,
        bool requireTcbUpToDate,
        bool allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) external returns (address appId) {
        return _deployAndRegister(
            initialOwner, disableUpgrades, requireTcbUpToDate, allowAnyDevice, initialDeviceId, initialComposeHash
        );
    }

    /// Permissionless on purpose, as upstream.
    function registerApp(address appId) external {
        _registerApp(appId);
    }

    function setAppImplementation(address implementation) external onlyOwner {
        require(implementation != address(0), "Invalid implementation address");
        appImplementation = implementation;
        emit AppImplementationSet(implementation);
    }

    // ---- test knobs (owner only; not part of the upstream interface) ----

    function testSetSkipFactoryEvent(bool on) external onlyOwner {
        _knobs.skipFactoryEvent = on;
    }

    function testSetDoubleFactoryEvent(bool on) external onlyOwner {
        _knobs.doubleFactoryEvent = on;
    }

    function testSetExtraLogBeforeFactoryEvent(bool on) external onlyOwner {
        _knobs.extraLogBeforeFactoryEvent = on;
    }

    function testSetRevertMode(uint8 mode) external onlyOwner {
        require(mode <= REVERT_EMPTY, "unknown revert mode");
        _knobs.revertMode = mode;
    }

    /// A deployed KmsDecoy, or address(0) to switch the decoy off.
    function testSetDecoy(address decoy) external onlyOwner {
        _knobs.decoy = decoy;
    }

    /// The "no implementation" mode: factory calls then revert with
    /// "DstackApp implementation not set"; setAppImplementation restores it.
    function testClearAppImplementation() external onlyOwner {
        appImplementation = address(0);
    }

    function testKnobs()
        external
        view
        returns (
            bool skipFactoryEvent,
            bool doubleFactoryEvent,
            bool extraLogBeforeFactoryEvent,
            uint8 revertMode,
            address decoy
        )
    {
        TestKnobs memory k = _knobs;
        return (k.skipFactoryEvent, k.doubleFactoryEvent, k.extraLogBeforeFactoryEvent, k.revertMode, k.decoy);
    }

    // ---- internals ----

    function _deployAndRegister(
        address initialOwner,
        bool disableUpgrades,
        bool requireTcbUpToDate,
        bool allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) private returns (address appId) {
        TestKnobs memory k = _knobs;
        if (k.revertMode == REVERT_CUSTOM_ERROR) revert TestKnobRevert(msg.sender);
        if (k.revertMode == REVERT_EMPTY) revert();
        require(appImplementation != address(0), "DstackApp implementation not set");
        require(initialOwner != address(0), "Invalid owner address");

        bytes memory initData = abi.encodeCall(
            IDstackAppInitializer.initialize,
            (initialOwner, disableUpgrades, requireTcbUpToDate, allowAnyDevice, initialDeviceId, initialComposeHash)
        );
        // Plain CREATE: the appId is the CREATE address of this contract at its current nonce.
        appId = address(new DstackAppProxy(appImplementation, initData));
        _registerApp(appId);

        if (k.extraLogBeforeFactoryEvent) {
            emit PolicyChanged(msg.sender, keccak256("registered-app"), bytes32(uint256(uint160(appId))), true);
        }
        if (k.decoy != address(0)) KmsDecoy(k.decoy).emitFactoryEvent(msg.sender);
        if (!k.skipFactoryEvent) {
            // Last log of the transaction; deployer is msg.sender, not necessarily the owner.
            emit AppDeployedViaFactory(appId, msg.sender);
            if (k.doubleFactoryEvent) emit AppDeployedViaFactory(appId, msg.sender);
        }
    }

    function _registerApp(address appId) private {
        require(appId != address(0), "Invalid app ID");
        registeredApps[appId] = true;
        emit AppRegistered(appId);
    }
}
