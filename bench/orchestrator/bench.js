// N concurrent on-chain deploys (kms BASE on the local anvil chain, through the simulator), two
// ways in the same run against the same stack:
//   1. through the orchestrator: N DeployCvm calls at once, each followed with WatchOperation;
//   2. with the @phala/cloud SDK (0.2.9) from this Node process, the seed's flow per CVM:
//      provisionCvm -> deployAppAuth -> getAppEnvEncryptPubKey -> encryptEnvVars ->
//      commitCvmProvision, N at once. All N send from the one test key, as the orchestrator does,
//      so the SDK gets a viem nonceManager account (without it, concurrent sends reuse nonces).
// Reports operations/second (N / wall time from the first call to the last success) and CPU time
// per operation: the orchestrators' (summed over the replicas) and the signer's from
// /proc/<pid>/stat, PostgreSQL's (the postmaster and its backends) when the journal is there, and
// this Node process's (process.cpuUsage), which for the SDK is everything the client side did.
// With several replicas (ORCHESTRATOR_ADDRESSES), deploy i goes to replica i mod N.
//
//   node bench.js --n=100 [--warmup=2] [--order=orchestrator,sdk | sdk,orchestrator | sdk | orchestrator]
//       [--label=postgres:1] [--json-out=FILE]
//   node bench.js --summarize=A.json,B.json,...   ratios of each journal configuration to the first
//   node bench.js --block-time=2 --n=100 [--sdk-n=10]   blocks per deploy on an interval-mined
//       chain (see blocksMain); bench.sh starts anvil with that block time
// Environment: tools/demo/stack.sh's stack.env, PROTO_DIR, TOOLS_DEMO_DIR, NODE_PATH.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const {OrchestratorClient, registeredInKms, jsonRpc} = require(path.join(process.env.TOOLS_DEMO_DIR, 'stack_client.js'));

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const m = /^--([^=]+)=(.*)$/.exec(a);
  if (!m) throw new Error(`bad argument ${a}`);
  return [m[1], m[2]];
}));
const N = Number(args.n || 100);
const WARMUP = Number(args.warmup || 2);
const ORDER = (args.order || 'orchestrator,sdk').split(',');
if (!ORDER.length || ORDER.some((x) => !['orchestrator', 'sdk'].includes(x))) throw new Error('--order: orchestrator and/or sdk');
const E = process.env;
const TEST_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';  // anvil #0, public
const COMPOSE = 'services:\n  app:\n    image: nginx:1.27-alpine\n    environment:\n      - API_KEY=${API_KEY}\n';
const envVars = (i) => [{key: 'API_KEY', value: `bench-${i}`}, {key: 'LOG_LEVEL', value: 'info'}];

const CLK_TCK = 100;  // USER_HZ on Linux x86-64
function procCpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;  // utime + stime (fields 14, 15)
}
// The postmaster, its live backends, and the backends that already ended (cutime + cstime).
function postgresCpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let total = (Number(fields[13]) + Number(fields[14])) / CLK_TCK + procCpuSeconds(pid);
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  for (const c of children) {
    try { total += procCpuSeconds(c); } catch (e) { /* ended meanwhile: counted in cutime next time */ }
  }
  return total;
}
const ORCHESTRATOR_PIDS = (E.ORCHESTRATOR_PIDS || E.ORCHESTRATOR_PID || '').split(',');
const orchestratorCpuSeconds = () => ORCHESTRATOR_PIDS.reduce((sum, p) => sum + procCpuSeconds(p), 0);
const selfCpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

async function measure(label, fn) {
  const pids = {signer: E.SIGNER_PID, cloudsim: E.CLOUDSIM_PID};
  const cpuNow = () => ({
    ...Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, procCpuSeconds(p)])),
    orchestrator: orchestratorCpuSeconds(),
    ...(E.POSTGRES_PID ? {postgres: postgresCpuSeconds(E.POSTGRES_PID)} : {}),
  });
  const before = cpuNow();
  const self0 = selfCpuSeconds();
  const t0 = process.hrtime.bigint();
  const results = await fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const after = cpuNow();
  const cpu = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
  cpu.node_client = selfCpuSeconds() - self0;
  return {label, n: results.length, wall_seconds: wall, ops_per_second: results.length / wall, cpu_seconds: cpu, results};
}

// One DeployCvm, watched to SUCCEEDED; returns the operation.
async function orchestratorDeployOne(orch, tag, i) {
  const op = await orch.call('DeployCvm', {
    request_id: `bench-${tag}-${i}-${crypto.randomUUID()}`, name: `bench-o${tag}-${i}`, kms_type: 'KMS_TYPE_BASE',
    compose: {docker_compose_file: COMPOSE}, env_vars: envVars(i),
  }, 120000);
  const done = await orch.wait(op.id, 600000);
  if (done.state !== 'OPERATION_STATE_SUCCEEDED') {
    throw new Error(`operation ${done.id}: ${done.state} ${JSON.stringify(done.error)}`);
  }
  return done;
}

async function orchestratorDeploys(orchs, tag, n) {
  return Promise.all(Array.from({length: n}, async (_, i) =>
    (await orchestratorDeployOne(orchs[i % orchs.length], tag, i)).deploy.app_auth_contract_address));
}

function sdkSetup() {
  const sdk = require('@phala/cloud');
  const viem = require('viem');
  const {privateKeyToAccount, nonceManager} = require('viem/accounts');
  const {anvil} = require('viem/chains');
  const client = sdk.createClient({apiKey: fs.readFileSync(E.PHALA_CLOUD_API_KEY_FILE, 'utf8').trim(), baseURL: E.CLOUDSIM_BASE_URL});
  const account = privateKeyToAccount(TEST_KEY, {nonceManager});
  const chain = {...anvil, id: Number(E.CHAIN_ID)};
  const transport = viem.http(E.RPC_URL);
  return {
    sdk, client, chain,
    walletClient: viem.createWalletClient({account, chain, transport}),
    publicClient: viem.createPublicClient({chain, transport}),
  };
}

// One deploy with the SDK, the seed's flow; returns deployAppAuth's result (appAuthAddress,
// blockNumber of the deploy transaction, ...).
async function sdkDeployOne(s, tag, i) {
  const prov = await s.client.provisionCvm({
    name: `bench-s${tag}-${i}`, compose_file: {docker_compose_file: COMPOSE, allowed_envs: ['API_KEY', 'LOG_LEVEL']},
    kms: 'BASE', kms_contract: E.KMS_ADDRESS,
  });
  const dep = await s.sdk.deployAppAuth({
    chain: s.chain, rpcUrl: E.RPC_URL, kmsContractAddress: prov.kms_info.kms_contract_address,
    walletClient: s.walletClient, publicClient: s.publicClient, deviceId: prov.device_id, composeHash: prov.compose_hash,
  });
  const kms = prov.kms_info.slug || prov.kms_info.id;
  const pub = await s.client.getAppEnvEncryptPubKey({app_id: dep.appId, kms});
  const encrypted = await s.sdk.encryptEnvVars(envVars(i), pub.public_key);
  await s.client.commitCvmProvision({
    app_id: dep.appId, encrypted_env: encrypted, compose_hash: prov.compose_hash, kms_id: kms,
    contract_address: dep.appAuthAddress, deployer_address: dep.deployer,
  });
  return dep;
}

async function sdkDeploys(s, tag, n) {
  return Promise.all(Array.from({length: n}, async (_, i) => (await sdkDeployOne(s, tag, i)).appAuthAddress));
}

async function verify(m) {
  const unique = new Set(m.results.map((a) => a.toLowerCase()));
  if (unique.size !== m.n) throw new Error(`${m.label}: ${unique.size} distinct apps for ${m.n} deploys`);
  const sample = [...unique].slice(0, 5);
  for (const app of sample) {
    if (!(await registeredInKms(E.RPC_URL, E.KMS_ADDRESS, app))) throw new Error(`${m.label}: ${app} not registered`);
  }
}

function row(m) {
  const per = (s) => `${((s / m.n) * 1000).toFixed(2)} ms`;
  return {
    label: m.label, n: m.n, wall_seconds: +m.wall_seconds.toFixed(3), ops_per_second: +m.ops_per_second.toFixed(2),
    cpu_ms_per_op: Object.fromEntries(Object.entries(m.cpu_seconds).map(([k, v]) => [k, +((v / m.n) * 1000).toFixed(2)])),
    text: `${m.label.padEnd(14)} ${String(m.n).padStart(4)} deploys  ${m.wall_seconds.toFixed(2).padStart(7)} s  ` +
        `${m.ops_per_second.toFixed(2).padStart(7)} ops/s  CPU/op: orchestrator ${per(m.cpu_seconds.orchestrator)}, ` +
        `signer ${per(m.cpu_seconds.signer)}, node client ${per(m.cpu_seconds.node_client)}, ` +
        `simulator ${per(m.cpu_seconds.cloudsim)}` +
        (m.cpu_seconds.postgres === undefined ? '' : `, postgres ${per(m.cpu_seconds.postgres)}`),
  };
}

async function main() {
  // The SDK logs receipts on the console; keep the report readable.
  const log = console.log;
  console.log = () => {};
  const orchs = (E.ORCHESTRATOR_ADDRESSES || E.ORCHESTRATOR_ADDRESS).split(',')
      .map((a) => new OrchestratorClient(a, E.PROTO_DIR));
  const s = sdkSetup();
  const LABEL = args.label ? `orchestrator[${args.label}]` : 'orchestrator';
  log(`bench: ${N} concurrent on-chain deploys, ${ORDER.join(' then ')}; ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const runs = [];
  for (const what of ORDER) {
    const deploys = what === 'orchestrator' ? (tag, n) => orchestratorDeploys(orchs, tag, n) : (tag, n) => sdkDeploys(s, tag, n);
    if (WARMUP > 0) await deploys('w', WARMUP * orchs.length);  // connections, JIT, the first blocks
    const m = await measure(what === 'orchestrator' ? LABEL : what, () => deploys('m', N));
    await verify(m);
    runs.push(m);
  }
  orchs.forEach((o) => o.close());
  const rows = runs.map(row);
  for (const r of rows) log(r.text);
  const o = runs.find((m) => m.label === LABEL);
  const k = runs.find((m) => m.label === 'sdk');
  if (o && k) {
    const ms = (x) => `${((x / N) * 1000).toFixed(2)} ms`;
    log(`bench: throughput orchestrator/SDK ${(o.ops_per_second / k.ops_per_second).toFixed(2)}x; CPU per deploy: ` +
        `orchestrator ${ms(o.cpu_seconds.orchestrator)} (+ signer: ${ms(o.cpu_seconds.orchestrator + o.cpu_seconds.signer)}) ` +
        `vs SDK client ${ms(k.cpu_seconds.node_client)}`);
  }
  const report = {n: N, order: ORDER, label: args.label || '', replicas: orchs.length, cpus: os.cpus().length, loadavg: os.loadavg(), rows: rows.map(({text, ...r}) => r)};
  if (args['json-out']) fs.writeFileSync(args['json-out'], JSON.stringify(report, null, 2) + '\n');
  log(JSON.stringify(report));
}

// ---- Blocks per deploy on a chain with a block time (--block-time=S: bench.sh starts anvil with
// --block-time S instead of automine). Issue [I]: N deploys in flight from one key through the
// orchestrator, each counted in blocks from its DeployCvm call to the block that includes its
// deploy transaction (head read just before the call; a transaction sent while block h is the
// head lands in h + 1 at best, so 1 is the minimum); next to the SDK running the seed's flow one
// deploy after another (--sdk-n of them, default 10) on the same chain, counted the same way
// from each provisionCvm call.
const headBlock = async () => Number(await jsonRpc(E.RPC_URL, 'eth_blockNumber', []));

async function orchestratorBlocks(orchs, tag, n) {
  return Promise.all(Array.from({length: n}, async (_, i) => {
    const head = await headBlock();
    const called = Date.now();
    const op = await orchestratorDeployOne(orchs[i % orchs.length], tag, i);
    const step = op.steps.find((x) => x.name === 'deploy_app_auth');
    const ms = (t) => Number(t.seconds) * 1000 + t.nanos / 1e6;
    return {app: op.deploy.app_auth_contract_address, head, block: Number(op.deploy.deploy_block_number),
      to_step_ms: ms(step.start_time) - called, step_ms: ms(step.finish_time) - ms(step.start_time)};
  }));
}

async function sdkSequentialBlocks(s, tag, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const head = await headBlock();
    const dep = await sdkDeployOne(s, tag, i);
    out.push({app: dep.appAuthAddress, head, block: Number(dep.blockNumber)});
  }
  return out;
}

function blockStats(m) {
  const blocks = m.results.map((r) => r.block - r.head);
  const sorted = [...blocks].sort((a, b) => a - b);
  const first = Math.min(...m.results.map((r) => r.head));
  const last = Math.max(...m.results.map((r) => r.block));
  return {
    label: m.label, n: m.n, wall_seconds: +m.wall_seconds.toFixed(3),
    avg_blocks: +(blocks.reduce((a, b) => a + b, 0) / blocks.length).toFixed(2),
    p50_blocks: sorted[Math.floor((sorted.length - 1) / 2)], max_blocks: sorted[sorted.length - 1],
    blocks_spanned: last - first,  // from the head at the first call to the last deploy's block
    histogram: Object.fromEntries([...new Set(sorted)].map((b) => [b, blocks.filter((x) => x === b).length])),
    cpu_ms_per_op: Object.fromEntries(Object.entries(m.cpu_seconds).map(([k, v]) => [k, +((v / m.n) * 1000).toFixed(2)])),
    // Orchestrator only: from the call to the start of deploy_app_auth, and that step's length.
    ...(m.results[0].step_ms === undefined ? {} : {
      to_deploy_step_ms: msStats(m.results.map((r) => r.to_step_ms)),
      deploy_step_ms: msStats(m.results.map((r) => r.step_ms)),
    }),
  };
}

function msStats(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  return {avg: Math.round(xs.reduce((a, b) => a + b, 0) / xs.length), max: Math.round(sorted[sorted.length - 1])};
}

async function blocksMain(blockTime) {
  const log = console.log;
  console.log = () => {};
  const SDK_N = Number(args['sdk-n'] || 10);
  const orchs = (E.ORCHESTRATOR_ADDRESSES || E.ORCHESTRATOR_ADDRESS).split(',')
      .map((a) => new OrchestratorClient(a, E.PROTO_DIR));
  const s = sdkSetup();
  log(`bench: blocks per deploy on a ${blockTime} s block time: ${N} in flight through the orchestrator, ` +
      `${SDK_N} one after another with the SDK; ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const runs = [];
  for (const what of ORDER) {
    const m = what === 'orchestrator'
      ? (WARMUP > 0 && await orchestratorDeploys(orchs, 'w', WARMUP),
         await measure('orchestrator', () => orchestratorBlocks(orchs, 'b', N)))
      : await measure('sdk sequential', () => sdkSequentialBlocks(s, 'b', SDK_N));
    await verify({...m, results: m.results.map((r) => r.app)});
    runs.push(blockStats(m));
  }
  orchs.forEach((o) => o.close());
  for (const r of runs) {
    log(`${r.label.padEnd(15)} ${String(r.n).padStart(4)} deploys  ${r.wall_seconds.toFixed(1).padStart(6)} s  ` +
        `blocks from call to inclusion: avg ${r.avg_blocks}, p50 ${r.p50_blocks}, max ${r.max_blocks} ` +
        `(${JSON.stringify(r.histogram)}); ${r.blocks_spanned} blocks for all; CPU/op: orchestrator ` +
        `${r.cpu_ms_per_op.orchestrator} ms, node client ${r.cpu_ms_per_op.node_client} ms` +
        (r.deploy_step_ms ? `; call to deploy_app_auth avg ${r.to_deploy_step_ms.avg} ms (max ${r.to_deploy_step_ms.max}), ` +
          `the step avg ${r.deploy_step_ms.avg} ms (max ${r.deploy_step_ms.max})` : ''));
  }
  const report = {mode: 'blocks', block_time_seconds: blockTime, n: N, sdk_n: SDK_N, order: ORDER, cpus: os.cpus().length,
    loadavg: os.loadavg(), rows: runs};
  if (args['json-out']) fs.writeFileSync(args['json-out'], JSON.stringify(report, null, 2) + '\n');
  log(JSON.stringify(report));
}

// The journal configurations side by side: deploys/s and CPU per deploy as ratios to the first.
function summarize(files) {
  const rows = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')))
      .map((r) => ({label: r.label, ...r.rows.find((x) => x.label.startsWith('orchestrator'))}));
  const base = rows[0];
  const ratio = (a, b) => (b ? (a / b).toFixed(2) : 'n/a');
  console.log(`bench: journal configurations, ratios to ${base.label}`);
  for (const r of rows) {
    const c = r.cpu_ms_per_op;
    console.log(`${r.label.padEnd(12)} ${r.ops_per_second.toFixed(2).padStart(7)} deploys/s (x${ratio(r.ops_per_second, base.ops_per_second)})  ` +
        `orchestrator CPU/deploy ${c.orchestrator.toFixed(2)} ms (x${ratio(c.orchestrator, base.cpu_ms_per_op.orchestrator)})` +
        (c.postgres === undefined ? '' : `  postgres CPU/deploy ${c.postgres.toFixed(2)} ms`));
  }
}

if (args.summarize) {
  summarize(args.summarize.split(','));
  process.exit(0);
}

(args['block-time'] ? blocksMain(Number(args['block-time'])) : main()).catch((e) => {
  console.error(`bench: ${e.stack || e}`);
  process.exit(1);
});
