// Checks what an example client (clients/python, clients/go) printed after a DeployCvm against
// the local stack, where the result lives: on chain (eth_call: the app registered in the KMS
// factory, owned by the signer key, its compose hash allowed) and in the simulator (/_sim: the
// CVM's app id and compose hash, and the env values it decrypted equal the env file's).
//
//   node check_deploy.js OPERATION_JSON_FILE ENV_FILE
// Environment: stack.env (RPC_URL, KMS_ADDRESS, CLOUDSIM_ADMIN_URL, DEPLOYER_ADDRESS, CHAIN_ID)
// and TOOLS_DEMO_DIR; EXPECT_CALLER, if set, is the caller the operation must record (e.g.
// "token:<name>"), else a Unix-socket caller "uid:<n>". Exits 1 naming the first mismatch.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {bareHex, composeHashAllowed, ownerOf, registeredInKms, simGet} =
    require(path.join(process.env.TOOLS_DEMO_DIR, 'stack_client.js'));

const E = process.env;
const lower = (s) => (s || '').toLowerCase();

async function main() {
  const [opFile, envFile] = process.argv.slice(2);
  const lines = fs.readFileSync(opFile, 'utf8').trim().split('\n');
  const op = JSON.parse(lines[lines.length - 1]);  // the client's last stdout line
  const want = {};
  for (const line of fs.readFileSync(envFile, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0 && !line.startsWith('#')) want[line.slice(0, i)] = line.slice(i + 1);
  }
  assert.equal(op.state, 'OPERATION_STATE_SUCCEEDED', `operation ${op.id}: ${JSON.stringify(op.error)}`);
  assert.equal(op.kind, 'OPERATION_KIND_DEPLOY_CVM');
  if (E.EXPECT_CALLER) assert.equal(op.caller, E.EXPECT_CALLER, 'the caller the orchestrator recorded');
  else assert.match(op.caller, /^uid:\d+$/, 'a Unix-socket caller is recorded as uid:<n>');
  const d = op.deploy;
  assert.ok(d, 'no deploy result');
  assert.equal(d.kms_type, 'KMS_TYPE_BASE');
  assert.equal(String(d.chain_id), E.CHAIN_ID);
  assert.match(d.app_auth_contract_address, /^0x[0-9a-fA-F]{40}$/);
  assert.equal(lower(d.app_id), lower(d.app_auth_contract_address));
  assert.match(d.deploy_transaction_hash, /^0x[0-9a-f]{64}$/);
  assert.match(d.compose_hash, /^0x[0-9a-f]{64}$/);
  assert.equal(op.cvm_id, d.cvm_id);

  assert.ok(await registeredInKms(E.RPC_URL, E.KMS_ADDRESS, d.app_auth_contract_address), 'not registered in the KMS');
  assert.equal(lower(await ownerOf(E.RPC_URL, d.app_auth_contract_address)), lower(E.DEPLOYER_ADDRESS), 'owner');
  assert.ok(await composeHashAllowed(E.RPC_URL, d.app_auth_contract_address, d.compose_hash), 'compose hash not allowed');

  const sim = await simGet(E.CLOUDSIM_ADMIN_URL, `/cvms/${encodeURIComponent(d.cvm_id)}`);
  assert.equal(bareHex(sim.cvm.compose_hash), bareHex(d.compose_hash), 'the simulator\'s compose hash');
  assert.equal(lower(bareHex(sim.cvm.app_id)), lower(bareHex(d.app_id)), 'the simulator\'s app id');
  assert.equal(sim.env && sim.env.decrypt_error, null, 'the simulator could not decrypt the env');
  assert.deepEqual(sim.env.values, want, 'the env values the CVM received');
  console.log(`checked ${op.id}: app ${d.app_id} on chain, cvm ${d.cvm_id} in the simulator`);
}

main().catch((e) => {
  console.error(`check_deploy: ${e.message}`);
  process.exit(1);
});
