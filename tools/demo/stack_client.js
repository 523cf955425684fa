// Node helpers for the local stack (tools/demo/stack.sh), shared by the demo's summary, the Node
// e2e test (test/e2e_node) and the benchmark (bench/orchestrator): an Orchestrator client from our
// proto/ files (@grpc/grpc-js + @grpc/proto-loader), eth_call against the chain, and the
// simulator's /_sim inspection API. @grpc packages come from NODE_PATH (tools/node/node_modules);
// the demo's summary uses only the parts without them.
'use strict';

// Selectors, from ../../../shared/facts/dstack-contracts.md.
const SELECTORS = {
  registeredApps: '0xa6c4cce9',        // DstackKms.registeredApps(address) -> bool
  allowedComposeHashes: '0x2f6622e5',  // DstackApp.allowedComposeHashes(bytes32) -> bool
  owner: '0x8da5cb5b',                 // owner() -> address
};

// A 20- or 32-byte hex value as one ABI word.
const word = (hex) => hex.replace(/^0x/, '').toLowerCase().padStart(64, '0');
const isTrue = (result) => BigInt(result) === 1n;
const bareHex = (h) => (h || '').replace(/^0x/, '').toLowerCase();

async function jsonRpc(rpcUrl, method, params) {
  const res = await fetch(rpcUrl, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({jsonrpc: '2.0', id: 1, method, params}),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

const ethCall = (rpcUrl, to, data) => jsonRpc(rpcUrl, 'eth_call', [{to, data}, 'latest']);

// On-chain facts about an app, read with eth_call.
async function registeredInKms(rpcUrl, kms, app) {
  return isTrue(await ethCall(rpcUrl, kms, SELECTORS.registeredApps + word(app)));
}
async function composeHashAllowed(rpcUrl, app, hash) {
  return isTrue(await ethCall(rpcUrl, app, SELECTORS.allowedComposeHashes + word(hash)));
}
async function ownerOf(rpcUrl, app) {
  return '0x' + (await ethCall(rpcUrl, app, SELECTORS.owner)).slice(-40);
}

// The simulator's inspection API (loopback only, no key).
async function simGet(adminUrl, path) {
  const res = await fetch(adminUrl + path);
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return res.json();
}
async function simSend(adminUrl, method, path, body) {
  const res = await fetch(adminUrl + path, {
    method,
    headers: {'content-type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json().catch(() => null);
}

const LOADER_OPTIONS = {keepCase: true, longs: String, enums: String, defaults: true, oneofs: true};
const TERMINAL = new Set(['OPERATION_STATE_SUCCEEDED', 'OPERATION_STATE_FAILED', 'OPERATION_STATE_CANCELLED']);

// An Orchestrator client with promise-returning calls.
class OrchestratorClient {
  constructor(address, protoDir) {
    const grpc = require('@grpc/grpc-js');
    const protoLoader = require('@grpc/proto-loader');
    const def = protoLoader.loadSync('onchainkms/orchestrator/v1/orchestrator.proto',
        {...LOADER_OPTIONS, includeDirs: [protoDir]});
    const v1 = grpc.loadPackageDefinition(def).onchainkms.orchestrator.v1;
    this.grpc = grpc;
    this.client = new v1.Orchestrator(address, grpc.credentials.createInsecure(),
        {'grpc.max_receive_message_length': 64 << 20});
  }

  close() { this.client.close(); }

  // A unary call; rejects with the grpc-js error (err.code, err.details).
  call(method, request, timeoutMs = 30000) {
    return new Promise((resolve, reject) => {
      this.client[method](request, {deadline: new Date(Date.now() + timeoutMs)},
          (err, response) => (err ? reject(err) : resolve(response)));
    });
  }

  // WatchOperation to its end: resolves with {events, status}; rejects on a stream error.
  watch(operationId, timeoutMs = 120000) {
    return new Promise((resolve, reject) => {
      const events = [];
      const stream = this.client.WatchOperation({operation_id: operationId},
          {deadline: new Date(Date.now() + timeoutMs)});
      stream.on('data', (e) => events.push(e));
      stream.on('error', reject);
      stream.on('status', (status) => { if (status.code === 0) resolve({events, status}); });
    });
  }

  // Follows an operation to a terminal state: the last Operation.
  async wait(operationId, timeoutMs = 120000) {
    const {events} = await this.watch(operationId, timeoutMs);
    const last = events.length ? events[events.length - 1].operation : await this.call('GetOperation', {operation_id: operationId});
    if (!TERMINAL.has(last.state)) throw new Error(`watch of ${operationId} ended in state ${last.state}`);
    return last;
  }
}

module.exports = {
  SELECTORS, word, isTrue, bareHex, jsonRpc, ethCall, registeredInKms, composeHashAllowed, ownerOf,
  simGet, simSend, OrchestratorClient, TERMINAL, LOADER_OPTIONS,
};
