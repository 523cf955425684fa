// Every orchestrator flow from Node (@grpc/grpc-js + @grpc/proto-loader over our proto/ files),
// against the real processes of tools/demo/stack.sh: anvil with the test KMS contracts, the Phala
// Cloud simulator, the signer and the orchestrator. e2e_test.sh starts the stack and passes
// DIR/stack.env in the environment. Results are checked where they live: on chain (eth_call) and
// in the simulator (/_sim: what the CVM received), besides the operations themselves and the
// order of their watch events.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const {
  OrchestratorClient, bareHex, composeHashAllowed, ownerOf, registeredInKms, simGet, simSend,
} = require(path.join(process.env.TOOLS_DEMO_DIR, 'stack_client.js'));

const E = process.env;
for (const k of ['ORCHESTRATOR_ADDRESS', 'ORACLE_JS', 'PROTO_DIR', 'RPC_URL', 'KMS_ADDRESS', 'CLOUDSIM_ADMIN_URL', 'DEPLOYER_ADDRESS', 'CHAIN_ID']) {
  assert.ok(E[k], `${k} must be set (see e2e_test.sh)`);
}
const {inspectCvm} = require(E.ORACLE_JS);
const orch = new OrchestratorClient(E.ORCHESTRATOR_ADDRESS, E.PROTO_DIR);
const grpc = orch.grpc;
test.after(() => orch.close());

const rid = (label) => `e2e-${label}-${crypto.randomUUID()}`;
const lower = (s) => (s || '').toLowerCase();
const randomHash = () => '0x' + crypto.randomBytes(32).toString('hex');
const COMPOSE_V1 = 'services:\n  app:\n    image: nginx:1.27-alpine\n';
const COMPOSE_V2 = 'services:\n  app:\n    image: nginx:1.27.3-alpine\n';
const env = (obj) => Object.entries(obj).map(([key, value]) => ({key, value}));

async function simCvm(cvmId) { return simGet(E.CLOUDSIM_ADMIN_URL, `/cvms/${encodeURIComponent(cvmId)}`); }
async function simEnvValues(cvmId) {
  const sim = await simCvm(cvmId);
  assert.equal(sim.env && sim.env.decrypt_error, null, 'the simulator could not decrypt the env');
  return sim.env.values;
}
// The verdict that shares no code with cloudapi/ (test/oracle/phala_oracle.js, plain node:crypto
// on what the simulator stored): the stored app compose hashes to `composeHash`, allowed on chain
// by `app` (null: PHALA KMS), the key handed out is the app key's public half, and the stored
// encrypted_env decrypts to exactly `vars`.
async function oracleAgrees(cvmId, composeHash, vars, app) {
  const v = await inspectCvm(E.CLOUDSIM_ADMIN_URL, cvmId);
  assert.equal(v.compose_hash, bareHex(composeHash), 'independently computed compose hash');
  assert.equal(v.stored_compose_hash, v.compose_hash);
  if (app) assert.ok(await composeHashAllowed(E.RPC_URL, app, '0x' + v.compose_hash), 'not allowed on chain');
  assert.ok(v.public_key);
  assert.equal(v.public_key, v.published_public_key);
  assert.ok(v.env, 'no encrypted_env stored');
  assert.deepEqual(Object.fromEntries(v.env.map((e) => [e.key, e.value])), vars);
}
async function expectCode(promise, code, fieldHint) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `want gRPC code ${code}, got ${err.code}: ${err.details}`);
    if (fieldHint) assert.match(err.details, fieldHint);
    return true;
  });
}

// Checks a WatchOperation stream: one SNAPSHOT first, contiguous sequence numbers, every step's
// STARTED before its SUCCEEDED, steps finishing in the order the operation lists them, and the
// stream ending right after the event that made the operation terminal.
function checkEvents(events, finalState) {
  assert.ok(events.length > 0, 'no events');
  assert.equal(events[0].type, 'TYPE_SNAPSHOT');
  assert.equal(events.filter((e) => e.type === 'TYPE_SNAPSHOT').length, 1, 'more than one snapshot');
  events.forEach((e, i) => {
    assert.equal(Number(e.sequence), i + 1, `event ${i} has sequence ${e.sequence}`);
    assert.equal(e.operation_id, events[0].operation_id);
    assert.equal(e.operation.id, e.operation_id);
  });
  const last = events[events.length - 1];
  assert.equal(last.operation.state, finalState);
  if (events.length > 1) assert.equal(last.type, 'TYPE_STATE_CHANGED', 'the last event must be the terminal state change');
  const started = new Map();
  const succeeded = [];
  events.forEach((e, i) => {
    if (e.type === 'TYPE_STEP_STARTED' && !started.has(e.step)) started.set(e.step, i);
    if (e.type === 'TYPE_STEP_SUCCEEDED') {
      if (started.has(e.step)) assert.ok(started.get(e.step) < i, `${e.step}: succeeded before it started`);
      succeeded.push(e.step);
    }
  });
  const snapshotDone = events[0].operation.steps.filter((s) => s.state === 'STEP_STATE_SUCCEEDED').map((s) => s.name);
  const order = last.operation.steps.filter((s) => s.state === 'STEP_STATE_SUCCEEDED').map((s) => s.name);
  assert.deepEqual([...snapshotDone, ...succeeded], order, 'steps did not finish in the listed order');
  return last.operation;
}

// Starts an operation with `method`, follows it with WatchOperation from the start, checks the
// events, returns the final operation. A latency fault on `slowPath` keeps the first step busy
// long enough for the watch to see the operation run.
async function runOperation(method, request, {slowPath, finalState = 'OPERATION_STATE_SUCCEEDED'} = {}) {
  if (slowPath) await simSend(E.CLOUDSIM_ADMIN_URL, 'POST', '/faults', {kind: 'latency', path_prefix: slowPath, latency_ms: 400, times: 1});
  try {
    const started = await orch.call(method, request);
    assert.equal(started.request_id, request.request_id);
    assert.match(started.state, /^OPERATION_STATE_(PENDING|RUNNING)$/);
    assert.match(started.caller, /^uid:\d+$/, 'a Unix-socket caller is recorded as uid:<n>');
    const {events} = await orch.watch(started.id);
    const op = checkEvents(events, finalState);
    assert.deepEqual(await orch.call('GetOperation', {operation_id: started.id}), op);
    return op;
  } finally {
    if (slowPath) await simSend(E.CLOUDSIM_ADMIN_URL, 'DELETE', '/faults');
  }
}

const state = {};  // what later tests build on

test('ListKmsInstances: the simulator\'s KMS list, filtered', async () => {
  const all = (await orch.call('ListKmsInstances', {})).kms_instances;
  const onchain = (await orch.call('ListKmsInstances', {onchain_only: true})).kms_instances;
  const base = (await orch.call('ListKmsInstances', {kms_type: 'KMS_TYPE_BASE', chain_id: E.CHAIN_ID})).kms_instances;
  assert.ok(all.some((k) => k.kms_type === 'KMS_TYPE_PHALA' && k.chain_id === '0'), JSON.stringify(all));
  assert.ok(onchain.length >= 1 && onchain.every((k) => k.chain_id !== '0'));
  assert.ok(base.length >= 1);
  for (const k of base) {
    assert.equal(k.kms_type, 'KMS_TYPE_BASE');
    assert.equal(k.chain_id, E.CHAIN_ID);
    assert.equal(lower(k.kms_contract_address), lower(E.KMS_ADDRESS));
    assert.match(k.kms_contract_address, /^0x[0-9a-fA-F]{40}$/);
  }
  state.baseKmsId = base[0].id;
});

test('DeployCvm on the on-chain KMS: provision, AppAuth, encrypt, commit', async () => {
  const vars = {API_KEY: 'e2e-secret-1', LOG_LEVEL: 'info'};
  const request = {
    request_id: rid('deploy'), name: 'e2e-app-1', kms_type: 'KMS_TYPE_BASE', kms_id: state.baseKmsId,
    compose: {docker_compose_file: COMPOSE_V1}, env_vars: env(vars),
  };
  const op = await runOperation('DeployCvm', request, {slowPath: '/cvms/provision'});
  assert.equal(op.kind, 'OPERATION_KIND_DEPLOY_CVM');
  for (const name of ['provision', 'deploy_app_auth', 'commit']) {
    assert.ok(op.steps.some((s) => s.name === name && s.state === 'STEP_STATE_SUCCEEDED'), `step ${name}`);
  }
  const d = op.deploy;
  assert.ok(d, 'no deploy result');
  assert.equal(d.kms_type, 'KMS_TYPE_BASE');
  assert.equal(d.chain_id, E.CHAIN_ID);
  assert.match(d.app_auth_contract_address, /^0x[0-9a-fA-F]{40}$/);
  assert.equal(lower(d.app_id), lower(d.app_auth_contract_address));
  assert.equal(lower(d.deployer_address), lower(E.DEPLOYER_ADDRESS));
  assert.match(d.deploy_transaction_hash, /^0x[0-9a-f]{64}$/);
  assert.ok(Number(d.deploy_block_number) > 0);
  assert.match(d.compose_hash, /^0x[0-9a-f]{64}$/);
  assert.ok(d.cvm_id);
  assert.equal(op.cvm_id, d.cvm_id);
  const step = op.steps.find((s) => s.name === 'deploy_app_auth');
  assert.equal(step.transaction_hash, d.deploy_transaction_hash);

  // On chain: registered in the factory, owned by the signer key, the compose hash allowed.
  assert.ok(await registeredInKms(E.RPC_URL, E.KMS_ADDRESS, d.app_auth_contract_address));
  assert.equal(lower(await ownerOf(E.RPC_URL, d.app_auth_contract_address)), lower(E.DEPLOYER_ADDRESS));
  assert.ok(await composeHashAllowed(E.RPC_URL, d.app_auth_contract_address, d.compose_hash));
  // In the simulator: the CVM, its compose hash, and the env values it decrypted.
  const sim = await simCvm(d.cvm_id);
  assert.equal(bareHex(sim.cvm.compose_hash), bareHex(d.compose_hash));
  assert.equal(lower(bareHex(sim.cvm.app_id)), lower(bareHex(d.app_id)));
  assert.deepEqual(await simEnvValues(d.cvm_id), vars);
  await oracleAgrees(d.cvm_id, d.compose_hash, vars, d.app_auth_contract_address);
  state.deploy = {request, op};
  state.app = d.app_auth_contract_address;
  state.cvm = d.cvm_id;
});

test('DeployCvm is idempotent per request_id; another request under it is ALREADY_EXISTS', async () => {
  const {request, op} = state.deploy;
  const again = await orch.call('DeployCvm', request);
  assert.equal(again.id, op.id);
  assert.equal(again.state, 'OPERATION_STATE_SUCCEEDED');
  await expectCode(orch.call('DeployCvm', {...request, name: 'e2e-app-other'}), grpc.status.ALREADY_EXISTS);
});

test('UpdateEnvVars with the same keys: one call, no transaction', async () => {
  const vars = {API_KEY: 'e2e-secret-2', LOG_LEVEL: 'debug'};
  const op = await runOperation('UpdateEnvVars', {request_id: rid('envs-same'), cvm_id: state.cvm, env_vars: env(vars)});
  assert.equal(op.kind, 'OPERATION_KIND_UPDATE_ENV_VARS');
  assert.equal(op.update.two_phase, false);
  assert.equal(op.update.register_transaction_hash, '');
  assert.equal(bareHex(op.update.compose_hash), bareHex(state.deploy.op.deploy.compose_hash));
  assert.deepEqual(await simEnvValues(state.cvm), vars);
  await oracleAgrees(state.cvm, op.update.compose_hash, vars, state.app);
});

test('UpdateEnvVars with new keys: two-phase, the new compose hash registered on chain', async () => {
  const vars = {API_KEY: 'e2e-secret-3', LOG_LEVEL: 'debug', FEATURE_X: 'on'};
  const op = await runOperation('UpdateEnvVars', {request_id: rid('envs-keys'), cvm_id: state.cvm, env_vars: env(vars)});
  const u = op.update;
  assert.equal(u.two_phase, true);
  assert.match(u.register_transaction_hash, /^0x[0-9a-f]{64}$/);
  assert.ok(Number(u.register_block_number) > 0);
  assert.notEqual(bareHex(u.compose_hash), bareHex(state.deploy.op.deploy.compose_hash));
  assert.ok(op.steps.some((s) => s.name === 'register_compose_hash' && s.transaction_hash === u.register_transaction_hash));
  assert.ok(await composeHashAllowed(E.RPC_URL, state.app, u.compose_hash));
  assert.deepEqual(await simEnvValues(state.cvm), vars);
  const sim = await simCvm(state.cvm);
  assert.equal(bareHex(sim.cvm.compose_hash), bareHex(u.compose_hash));
  await oracleAgrees(state.cvm, u.compose_hash, vars, state.app);
  state.vars = vars;
});

test('UpdateDockerCompose: two-phase', async () => {
  const op = await runOperation('UpdateDockerCompose', {request_id: rid('compose'), cvm_id: state.cvm, docker_compose_file: COMPOSE_V2});
  assert.equal(op.kind, 'OPERATION_KIND_UPDATE_DOCKER_COMPOSE');
  assert.equal(op.update.two_phase, true);
  assert.match(op.update.register_transaction_hash, /^0x[0-9a-f]{64}$/);
  assert.ok(await composeHashAllowed(E.RPC_URL, state.app, op.update.compose_hash));
  const sim = await simCvm(state.cvm);
  assert.equal(bareHex(sim.cvm.compose_hash), bareHex(op.update.compose_hash));
  await oracleAgrees(state.cvm, op.update.compose_hash, state.vars, state.app);
  assert.ok(sim.compose_history.some((h) => bareHex(h.transaction_hash) === bareHex(op.update.register_transaction_hash)));
});

test('UpdateComposeFile: a field by update_mask, with new env vars in the same commit', async () => {
  const vars = {...state.vars, FEATURE_X: 'off'};
  const op = await runOperation('UpdateComposeFile', {
    request_id: rid('compose-file'), cvm_id: state.cvm, compose: {pre_launch_script: 'echo e2e\n'},
    update_mask: {paths: ['pre_launch_script']}, update_env_vars: true, env_vars: env(vars),
  });
  assert.equal(op.kind, 'OPERATION_KIND_UPDATE_COMPOSE_FILE');
  assert.match(op.update.compose_hash, /^0x[0-9a-f]{64}$/);
  assert.ok(await composeHashAllowed(E.RPC_URL, state.app, op.update.compose_hash));
  assert.deepEqual(await simEnvValues(state.cvm), vars);
  const sim = await simCvm(state.cvm);
  assert.equal(bareHex(sim.cvm.compose_hash), bareHex(op.update.compose_hash));
  await oracleAgrees(state.cvm, op.update.compose_hash, vars, state.app);
});

test('AddComposeHash: by app contract, again (already registered), and by CVM', async () => {
  const hash = randomHash();
  const op = await runOperation('AddComposeHash', {
    request_id: rid('hash-app'), app: {chain_id: E.CHAIN_ID, app_contract_address: state.app}, compose_hash: hash,
  });
  const r = op.add_compose_hash;
  assert.equal(op.kind, 'OPERATION_KIND_ADD_COMPOSE_HASH');
  assert.equal(r.already_registered, false);
  assert.equal(r.compose_hash, hash);
  assert.equal(r.chain_id, E.CHAIN_ID);
  assert.equal(lower(r.app_contract_address), lower(state.app));
  assert.match(r.transaction_hash, /^0x[0-9a-f]{64}$/);
  assert.ok(await composeHashAllowed(E.RPC_URL, state.app, hash));

  const again = await runOperation('AddComposeHash', {
    request_id: rid('hash-again'), app: {chain_id: E.CHAIN_ID, app_contract_address: state.app}, compose_hash: bareHex(hash),
  });
  assert.equal(again.add_compose_hash.already_registered, true);
  assert.equal(again.add_compose_hash.transaction_hash, r.transaction_hash, 'reports the earlier registration');

  const other = randomHash();
  const byCvm = await runOperation('AddComposeHash', {request_id: rid('hash-cvm'), cvm_id: state.cvm, compose_hash: other});
  assert.equal(lower(byCvm.add_compose_hash.app_contract_address), lower(state.app));
  assert.ok(await composeHashAllowed(E.RPC_URL, state.app, other));
});

test('DeployCvm on the PHALA KMS: no chain involved', async () => {
  const vars = {ONLY: 'phala'};
  const op = await runOperation('DeployCvm', {
    request_id: rid('phala'), name: 'e2e-phala-1', kms_type: 'KMS_TYPE_PHALA',
    compose: {docker_compose_file: COMPOSE_V1}, env_vars: env(vars),
  });
  assert.equal(op.deploy.kms_type, 'KMS_TYPE_PHALA');
  assert.equal(op.deploy.chain_id, '0');
  assert.equal(op.deploy.app_auth_contract_address, '');
  assert.equal(op.deploy.deploy_transaction_hash, '');
  assert.ok(!op.steps.some((s) => s.name === 'deploy_app_auth' && s.state === 'STEP_STATE_SUCCEEDED'));
  assert.deepEqual(await simEnvValues(op.deploy.cvm_id), vars);
  await oracleAgrees(op.deploy.cvm_id, op.deploy.compose_hash, vars, null);
});

test('CancelOperation before any effect; too late after one', async () => {
  await simSend(E.CLOUDSIM_ADMIN_URL, 'POST', '/faults', {kind: 'latency', path_prefix: '/cvms/provision', latency_ms: 3000, times: 1});
  try {
    const started = await orch.call('DeployCvm', {
      request_id: rid('cancel'), name: 'e2e-cancelled', kms_type: 'KMS_TYPE_BASE',
      compose: {docker_compose_file: COMPOSE_V1},
    });
    const cancelled = await orch.call('CancelOperation', {operation_id: started.id});
    assert.equal(cancelled.state, 'OPERATION_STATE_CANCELLED');
    const {events} = await orch.watch(started.id);
    assert.equal(events[events.length - 1].operation.state, 'OPERATION_STATE_CANCELLED');
    assert.deepEqual(await orch.call('CancelOperation', {operation_id: started.id}), cancelled, 'cancel twice: unchanged');
    // Nothing was committed for it.
    const cvms = (await simGet(E.CLOUDSIM_ADMIN_URL, '/cvms')).cvms;
    assert.ok(!cvms.some((c) => c.name === 'e2e-cancelled'), 'a cancelled deploy must not commit');
  } finally {
    await simSend(E.CLOUDSIM_ADMIN_URL, 'DELETE', '/faults');
  }
  await expectCode(orch.call('CancelOperation', {operation_id: state.deploy.op.id}), grpc.status.FAILED_PRECONDITION);
});

test('GetOperation, ListOperations (filters, paging), SupplyEnvVars outside WAITING_FOR_INPUT', async () => {
  const deploys = (await orch.call('ListOperations', {kind: 'OPERATION_KIND_DEPLOY_CVM', page_size: 500})).operations;
  assert.ok(deploys.some((o) => o.id === state.deploy.op.id));
  assert.ok(deploys.every((o) => o.kind === 'OPERATION_KIND_DEPLOY_CVM'));
  const times = deploys.map((o) => Date.parse(o.create_time));
  assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');

  const onCvm = (await orch.call('ListOperations', {cvm_id: state.cvm, page_size: 500})).operations;
  assert.ok(onCvm.length >= 6, `operations on the CVM: ${onCvm.length}`);
  assert.ok(onCvm.every((o) => o.cvm_id === state.cvm));

  const page1 = await orch.call('ListOperations', {page_size: 1});
  assert.equal(page1.operations.length, 1);
  assert.ok(page1.next_page_token);
  const page2 = await orch.call('ListOperations', {page_size: 1, page_token: page1.next_page_token});
  assert.equal(page2.operations.length, 1);
  assert.notEqual(page2.operations[0].id, page1.operations[0].id);
  await expectCode(orch.call('ListOperations', {page_size: 1, page_token: page1.next_page_token, kind: 'OPERATION_KIND_ADD_COMPOSE_HASH'}),
      grpc.status.INVALID_ARGUMENT);

  await expectCode(orch.call('SupplyEnvVars', {request_id: rid('supply'), operation_id: state.deploy.op.id, env_vars: env({A: '1'})}),
      grpc.status.FAILED_PRECONDITION);
});

test('NOT_FOUND and INVALID_ARGUMENT name what is wrong', async () => {
  await expectCode(orch.call('GetOperation', {operation_id: 'op_does_not_exist'}), grpc.status.NOT_FOUND);
  await expectCode(orch.watch('op_does_not_exist'), grpc.status.NOT_FOUND);
  await expectCode(orch.call('CancelOperation', {operation_id: 'op_does_not_exist'}), grpc.status.NOT_FOUND);
  await expectCode(orch.call('DeployCvm', {request_id: rid('bad'), kms_type: 'KMS_TYPE_BASE', compose: {docker_compose_file: COMPOSE_V1}}),
      grpc.status.INVALID_ARGUMENT, /name/);
  await expectCode(orch.call('DeployCvm', {request_id: rid('bad'), name: 'e2e-bad-1', kms_type: 'KMS_TYPE_BASE'}),
      grpc.status.INVALID_ARGUMENT, /compose/);
  await expectCode(orch.call('AddComposeHash', {request_id: rid('bad'), cvm_id: state.cvm, compose_hash: '0xzz'}),
      grpc.status.INVALID_ARGUMENT, /compose_hash/);
  await expectCode(orch.call('UpdateEnvVars', {request_id: 'no spaces allowed', cvm_id: state.cvm}),
      grpc.status.INVALID_ARGUMENT, /request_id/);
});
