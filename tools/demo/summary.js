// The demo's summary (tools/demo.sh): reads the operations the steps produced (kmsctl ops get
// --json), prints the table, and checks the outcome where it lives: on chain (eth_call to the
// KMS factory and the app's contract) and in the Phala Cloud simulator (its /_sim inspection
// API). Exit 0 when every step succeeded and every check passed.
//
//   node tools/demo/summary.js --steps=FILE --rpc-url=URL --sim-admin-url=URL --kms-address=ADDR
//       --chain-id=N --deployer=ADDR --expected-env=FILE --total-ms=N [--json-out=FILE]
//
// --steps: one line per step, tab-separated: number, title, wall milliseconds, operation JSON file.
'use strict';
const fs = require('fs');
const {bareHex: bare, composeHashAllowed, ownerOf, registeredInKms, simGet} = require('./stack_client.js');
// Plain node:crypto on what the simulator stored: a verdict that shares no code with cloudapi/.
const {inspectCvm} = require('../../test/oracle/phala_oracle.js');

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const m = /^--([^=]+)=(.*)$/s.exec(a);
  if (!m) throw new Error(`bad argument ${a}`);
  return [m[1], m[2]];
}));

function parseEnvFile(path) {
  const out = {};
  for (const line of fs.readFileSync(path, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

function table(rows) {
  const widths = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] || 0, String(c).length); });
  return rows.map((r) => r.map((c, i) => String(c).padEnd(i + 1 < r.length ? widths[i] : 0)).join('  ').trimEnd())
      .join('\n');
}

function seconds(ms) { return `${(ms / 1000).toFixed(2)}s`; }

async function main() {
  const steps = fs.readFileSync(args.steps, 'utf8').trim().split('\n').map((line) => {
    const [n, title, ms, file] = line.split('\t');
    return {n: Number(n), title, ms: Number(ms), op: JSON.parse(fs.readFileSync(file, 'utf8'))};
  });
  const deploy = steps[0].op.deploy || {};
  const checks = [];
  const check = (name, ok, detail) => checks.push({name, ok: !!ok, detail});

  for (const s of steps) check(`step ${s.n} succeeded`, s.op.state === 'OPERATION_STATE_SUCCEEDED', s.op.state);

  const rows = [['#', 'step', 'time', 'path', 'transaction', 'block', 'compose hash']];
  const summarySteps = [];
  for (const s of steps) {
    const r = s.op.deploy || s.op.update || {};
    const tx = s.op.deploy ? r.deploy_transaction_hash : r.register_transaction_hash;
    const block = s.op.deploy ? r.deploy_block_number : r.register_block_number;
    const path = s.op.deploy ? 'deploy' : r.two_phase ? 'two-phase' : 'one call';
    rows.push([s.n, s.title, seconds(s.ms), path, tx || '-', block && block !== '0' ? block : '-', r.compose_hash || '-']);
    summarySteps.push({
      step: s.n, title: s.title, operation_id: s.op.id, state: s.op.state, seconds: s.ms / 1000,
      two_phase: !!r.two_phase, transaction_hash: tx || '', block_number: Number(block || 0),
      compose_hash: r.compose_hash || '',
    });
  }
  const [, envKeys, compose, envValues] = summarySteps;
  if (envKeys) check('step 2 (new env keys) took the two-phase path', envKeys.two_phase && envKeys.transaction_hash);
  if (compose) check('step 3 (new compose) took the two-phase path', compose.two_phase && compose.transaction_hash);
  if (envValues) check('step 4 (same keys) was one call, no transaction', !envValues.two_phase && !envValues.transaction_hash);

  // On chain.
  const app = deploy.app_auth_contract_address;
  if (app) {
    const rpc = args['rpc-url'];
    check('app registered in the KMS factory (registeredApps)', await registeredInKms(rpc, args['kms-address'], app));
    const owner = await ownerOf(rpc, app);
    check('AppAuth owner is the signer key', owner.toLowerCase() === args.deployer.toLowerCase(), owner);
    const hashes = [...new Set(summarySteps.map((s) => s.compose_hash).filter(Boolean))];
    let allowed = 0;
    for (const h of hashes) if (await composeHashAllowed(rpc, app, h)) allowed++;
    check(`compose hashes allowed on chain: ${allowed}/${hashes.length}`, allowed === hashes.length);
  } else {
    check('deploy returned an AppAuth contract', false);
  }

  // In the simulator: what the CVM really received.
  let simEnvKeys = [];
  if (deploy.cvm_id) {
    const sim = await simGet(args['sim-admin-url'], `/cvms/${encodeURIComponent(deploy.cvm_id)}`);
    const env = sim.env || {};
    const expected = parseEnvFile(args['expected-env']);
    simEnvKeys = Object.keys(env.values || {});
    check('the simulator decrypted the last env vars, equal to what was sent',
        !env.decrypt_error && JSON.stringify(Object.entries(env.values || {}).sort()) ===
            JSON.stringify(Object.entries(expected).sort()),
        env.decrypt_error || simEnvKeys.join(','));
    const last = summarySteps[summarySteps.length - 1].compose_hash;
    check('the simulator runs the last compose hash',
        bare(sim.cvm && sim.cvm.compose_hash) === bare(last) ||
            (sim.compose_history || []).some((h) => bare(h.compose_hash) === bare(last)));
    const v = await inspectCvm(args['sim-admin-url'], deploy.cvm_id).catch((e) => ({error: e.message}));
    check('recomputed without cloudapi/: the stored app compose hashes to the last compose hash',
        v.compose_hash === bare(last), v.error || v.compose_hash);
    check('recomputed without cloudapi/: the stored env decrypts to what was sent',
        !v.error && v.public_key === v.published_public_key &&
            JSON.stringify((v.env || []).map((e) => [e.key, e.value]).sort()) ===
                JSON.stringify(Object.entries(expected).sort()),
        v.error || 'different values');
  }

  const total = Number(args['total-ms']);
  const head = table([
    ['  app id', deploy.app_id || '-'],
    ['  AppAuth contract', `${app || '-'}  (deployer ${deploy.deployer_address || '-'})`],
    ['  CVM id', deploy.cvm_id || '-'],
    ['  chain', `${args['chain-id']}, DstackKms factory ${args['kms-address']}`],
  ]);
  console.log(`demo: summary\n${head}\n`);
  console.log(table(rows).split('\n').map((l) => '  ' + l).join('\n'));
  const flowMs = steps.reduce((a, s) => a + s.ms, 0);
  console.log(`\n  the four steps: ${seconds(flowMs)}; the whole demo so far (build, stack start, steps): ${seconds(total)}`);
  console.log('\n  checks:');
  for (const c of checks) console.log(`    ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${!c.ok && c.detail ? ` (${c.detail})` : ''}`);
  if (simEnvKeys.length) console.log(`  (the simulator keeps the env values it decrypted, for tests: keys ${simEnvKeys.join(', ')})`);

  const failed = checks.filter((c) => !c.ok);
  if (args['json-out']) {
    fs.writeFileSync(args['json-out'], JSON.stringify({
      app_id: deploy.app_id || '', app_auth_contract_address: app || '', cvm_id: deploy.cvm_id || '',
      deployer_address: deploy.deployer_address || '', chain_id: Number(args['chain-id']),
      kms_address: args['kms-address'], steps: summarySteps, flow_seconds: flowMs / 1000,
      total_seconds: total / 1000, checks, ok: failed.length === 0,
    }, null, 2) + '\n');
  }
  console.log(failed.length ? `\ndemo: ${failed.length} check(s) FAILED` : '\ndemo: done, every check passed');
  process.exit(failed.length ? 1 : 0);
}

main().catch((e) => {
  console.error(`demo: summary failed: ${e.stack || e}`);
  process.exit(1);
});
