#!/usr/bin/env node
// Checks every function selector, event topic0 (and which parameters are indexed) and custom
// error selector in the committed ABIs against the values in the facts
// (shared/facts/dstack-contracts.md §2-§3), computing the actual values from the ABI with the
// real `cast` (`cast sig`, `cast keccak`), not with solc's own output. Anything in an ABI that the
// facts do not list must be one of our test-only additions, listed in OURS.
//
//   node test/contracts/abi_selectors_test.js [--artifacts DIR] [--node-modules DIR]
'use strict';

const {execFileSync} = require('child_process');
const fs = require('fs');
const path = require('path');

// Values copied from the facts, by contract. Events: [topic0, indexed flags in order].
const OWNABLE_FUNCTIONS = {
  'owner()': '0x8da5cb5b',
  'transferOwnership(address)': '0xf2fde38b',
  'renounceOwnership()': '0x715018a6',
};
const OWNABLE_EVENTS = {
  'OwnershipTransferred(address,address)':
      ['0x8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e0', [true, true]],
};
const OWNABLE_ERRORS = {
  'OwnableUnauthorizedAccount(address)': '0x118cdaa7',
  'OwnableInvalidOwner(address)': '0x1e4fbdf7',
};

const FACTS = {
  DstackKms: {
    functions: {
      'deployAndRegisterApp(address,bool,bool,bytes32,bytes32)': '0x8618169d',
      'deployAndRegisterApp(address,bool,bool,bool,bytes32,bytes32)': '0x9cb9c31f',
      'registerApp(address)': '0x17a1d80f',
      'setAppImplementation(address)': '0x3ceaaa11',
      'registeredApps(address)': '0xa6c4cce9',
      'appImplementation()': '0x25a992da',
      ...OWNABLE_FUNCTIONS,
    },
    events: {
      'AppDeployedViaFactory(address,address)':
          ['0xfd86d7f6962eba3b7a3bf9129c06c0b2f885e1c61ef2c9f0dbb856be0deefdee', [true, true]],
      'AppRegistered(address)': ['0x0d540ad8f39e07d19909687352b9fa017405d93c91a6760981fbae9cf28bfef7', [false]],
      'AppImplementationSet(address)':
          ['0x08bb433f12b5fd81d2d5e0deeb3b4d28371781ddbd80e9d053e7468d2b1aa82d', [false]],
      'PolicyChanged(address,bytes32,bytes32,bool)':
          ['0x341d3bc64e32172fc5bcf27b0f7f69dc5adc19af64b7aa1dee361e5883c32375', [true, true, true, false]],
      ...OWNABLE_EVENTS,
    },
    errors: {...OWNABLE_ERRORS},
  },
  DstackApp: {
    functions: {
      'initialize(address,bool,bool,bytes32,bytes32)': '0x187515ca',
      'initialize(address,bool,bool,bool,bytes32,bytes32)': '0x9ed28193',
      'addComposeHash(bytes32)': '0xdfc77223',
      'removeComposeHash(bytes32)': '0x67b3f22c',
      'addDevice(bytes32)': '0x2a819728',
      'removeDevice(bytes32)': '0x1d266200',
      'setAllowAnyDevice(bool)': '0x7c4beeb8',
      'setRequireTcbUpToDate(bool)': '0x6e4c7422',
      'disableUpgrades()': '0xec669036',
      'allowedComposeHashes(bytes32)': '0x2f6622e5',
      'allowedDeviceIds(bytes32)': '0xbf8b211b',
      'allowAnyDevice()': '0x3440a16a',
      'requireTcbUpToDate()': '0x0aa58c83',
      'version()': '0x54fd4d50',
      ...OWNABLE_FUNCTIONS,
    },
    events: {
      'ComposeHashAdded(bytes32)': ['0xfecb34306dd9d8b785b54d65489d06afc8822a0893ddacedff40c50a4942d0af', [false]],
      'ComposeHashRemoved(bytes32)': ['0x755b79bd4b0eeab344d032284a99003b2ddc018b646752ac72d681593a6e8947', [false]],
      'DeviceAdded(bytes32)': ['0x67fc71ab96fe3fa3c6f78e9a00e635d591b7333ce611c0380bc577aac702243b', [false]],
      'DeviceRemoved(bytes32)': ['0xe0862975ac517b0478d308012afabc4bc37c23874a18144d7f2dfb852ff95c2c', [false]],
      'AllowAnyDeviceSet(bool)': ['0xbb2cdb6c7b362202d40373f87bc4788301cca658f91711ac1662e1ad2cba4a20', [false]],
      'RequireTcbUpToDateSet(bool)':
          ['0xafae60561b2481a349b45b3a47357f70eef6ae67e5b6e1749d74de7f19a25aa1', [false]],
      'UpgradesDisabled()': ['0x0e5daa943fcd7e7182d0e893d180695c2ea9f6f1b4a1c5432faf14cf17b774e8', []],
      'Initialized(uint64)': ['0xc7f505b2f371ae2175ee4913f4499e1f2633a7b5936321eed1cdaeb6115181d2', [false]],
      ...OWNABLE_EVENTS,
    },
    errors: {...OWNABLE_ERRORS, 'InvalidInitialization()': '0xf92ee8a9'},
  },
  // Two-step ownership (upstream from 2026-05): DstackApp's table plus Ownable2Step's.
  DstackAppTwoStep: null,
  DstackAppProxy: {
    functions: {},
    events: {
      'Upgraded(address)': ['0xbc7cd75a20ee27fd9adebab32041f755214dbc6bffa90cc0225b39da2e5c2d3b', [true]],
    },
    errors: {},
  },
  KmsDecoy: {
    functions: {},
    events: {
      'AppDeployedViaFactory(address,address)':
          ['0xfd86d7f6962eba3b7a3bf9129c06c0b2f885e1c61ef2c9f0dbb856be0deefdee', [true, true]],
    },
    errors: {},
  },
};

FACTS.DstackAppTwoStep = {
  functions: {...FACTS.DstackApp.functions, 'pendingOwner()': '0xe30c3978', 'acceptOwnership()': '0x79ba5097'},
  events: {
    ...FACTS.DstackApp.events,
    'OwnershipTransferStarted(address,address)':
        ['0x38d16b8cac22d99fc7c124b9cd0de2d3fa1faef420bfe791d8c362d765e22700', [true, true]],
  },
  errors: {...FACTS.DstackApp.errors},
};

// Test-only additions that have no upstream counterpart.
const OURS = {
  DstackKms: {
    functions: [
      'testSetSkipFactoryEvent(bool)', 'testSetDoubleFactoryEvent(bool)', 'testSetExtraLogBeforeFactoryEvent(bool)',
      'testSetRevertMode(uint8)', 'testSetDecoy(address)', 'testClearAppImplementation()', 'testKnobs()',
    ],
    errors: ['TestKnobRevert(address)'],
  },
  KmsDecoy: {functions: ['emitFactoryEvent(address)']},
};

function parseArgs(argv) {
  const opts = {
    artifacts: path.join(__dirname, 'artifacts'),
    nodeModules: path.join(__dirname, '..', '..', 'tools', 'node', 'node_modules'),
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--artifacts') opts.artifacts = argv[++i];
    else if (argv[i] === '--node-modules') opts.nodeModules = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return opts;
}

// Canonical ABI type of a parameter (tuples spelled out, arrays kept).
function canonicalType(p) {
  if (!p.type.startsWith('tuple')) return p.type;
  return `(${p.components.map(canonicalType).join(',')})${p.type.slice('tuple'.length)}`;
}

function signature(item) {
  return `${item.name}(${item.inputs.map(canonicalType).join(',')})`;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const castBin = path.join(opts.nodeModules, '@foundry-rs', 'cast-linux-amd64', 'bin', 'cast');
  const cast = (...args) => execFileSync(castBin, args, {encoding: 'utf8'}).trim().toLowerCase();
  const failures = [];
  const fail = (msg) => failures.push(msg);
  let checked = 0;

  for (const [contract, facts] of Object.entries(FACTS)) {
    const file = path.join(opts.artifacts, `${contract}.json`);
    if (!fs.existsSync(file)) {
      fail(`${contract}: no artifact ${file}`);
      continue;
    }
    const abi = JSON.parse(fs.readFileSync(file, 'utf8')).abi;
    const ours = OURS[contract] || {};
    const seen = {function: new Set(), event: new Set(), error: new Set()};

    for (const item of abi) {
      if (!Object.hasOwn(seen, item.type)) continue;  // constructor, fallback, receive
      const sig = signature(item);
      seen[item.type].add(sig);
      checked++;
      if (item.type === 'function' || item.type === 'error') {
        const table = item.type === 'function' ? facts.functions : facts.errors;
        const extra = (item.type === 'function' ? ours.functions : ours.errors) || [];
        const actual = cast('sig', sig);
        if (sig in table) {
          if (actual !== table[sig]) fail(`${contract}.${sig}: cast sig gives ${actual}, facts say ${table[sig]}`);
        } else if (!extra.includes(sig)) {
          fail(`${contract}: ${item.type} ${sig} (${actual}) is neither in the facts nor a listed test addition`);
        } else if (item.type === 'function' && contract === 'DstackKms' && !sig.startsWith('test')) {
          fail(`${contract}: test knob ${sig} should start with "test"`);
        }
      } else {
        const actual = cast('keccak', sig);
        const indexed = item.inputs.map((p) => !!p.indexed);
        if (!(sig in facts.events)) {
          fail(`${contract}: event ${sig} (${actual}) is not in the facts`);
          continue;
        }
        const [topic, wantIndexed] = facts.events[sig];
        if (actual !== topic) fail(`${contract}.${sig}: topic0 ${actual}, facts say ${topic}`);
        if (JSON.stringify(indexed) !== JSON.stringify(wantIndexed)) {
          fail(`${contract}.${sig}: indexed ${JSON.stringify(indexed)}, facts say ${JSON.stringify(wantIndexed)}`);
        }
        if (item.anonymous) fail(`${contract}.${sig}: must not be anonymous`);
      }
    }
    // The other direction: everything the facts list for this contract is implemented.
    for (const [kind, table] of [['function', facts.functions], ['event', facts.events], ['error', facts.errors]]) {
      for (const sig of Object.keys(table)) {
        if (!seen[kind].has(sig)) fail(`${contract}: ${kind} ${sig} from the facts is missing`);
      }
    }
  }

  // Two derived values the facts state, recomputed here as a check on the facts themselves.
  const xor = ['0xdfc77223', '0x67b3f22c', '0x2a819728', '0x1d266200'].reduce((a, s) => a ^ parseInt(s, 16), 0);
  const basicMgmtId = '0x' + (xor >>> 0).toString(16).padStart(8, '0');
  if (basicMgmtId !== '0x8fd37527') fail(`IAppAuthBasicManagement id ${basicMgmtId}, facts say 0x8fd37527`);
  const registeredApp = cast('keccak', 'registered-app');
  if (registeredApp !== '0x1a61f88f2e67632c1bf4321c88aec40bbf788e2b1a14b69f1186e6a3a31d9028') {
    fail(`keccak("registered-app") = ${registeredApp} differs from the facts`);
  }

  if (failures.length > 0) {
    console.error(`${failures.length} mismatch(es):\n  ` + failures.join('\n  '));
    return 1;
  }
  console.log(`${checked} ABI entries match the facts`);
  return 0;
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(`abi_selectors_test: ${e.stack || e.message}`);
  process.exitCode = 2;
}
