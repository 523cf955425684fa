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
// CPU time of a process's live threads in seconds, from the scheduler's nanosecond clock
// (/proc/<pid>/task/*/schedstat) instead of 10 ms ticks: fine enough for the signer's share of
// one signature. Threads that ended are not counted (the signer's live as long as it does).
function procCpuSecondsFine(pid) {
  let ns = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try { ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch (e) { /* ended */ }
  }
  return ns / 1e9;
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
  inFlight.count++;  // for rssSampler's "all N in flight"
  const op = await orch.call('DeployCvm', {
    request_id: `bench-${tag}-${i}-${crypto.randomUUID()}`, name: `bench-o${tag}-${i}`, kms_type: 'KMS_TYPE_BASE',
    compose: {docker_compose_file: COMPOSE}, env_vars: envVars(i),
  }, 120000);
  inFlight.ids.push(op.id);
  const done = await orch.wait(op.id, 600000);
  inFlight.count--;
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

// ---- The orchestrator's resources (issue [I]): RSS with N in flight, the signer's CPU per
// signature, the orchestrator's CPU per step and per thread. CPU, never wall time. ----

// Deploys in flight (called, not yet SUCCEEDED) and the operation ids of the current run.
const inFlight = {count: 0, ids: []};

function statusKb(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// Samples the orchestrator's VmRSS every 10 ms: its peak over the run, and its peak while all N
// deploys are in flight. VmHWM (the peak since the process started) is read at the end.
function rssSampler(pid, n) {
  const r = {peak_rss_kb: 0, rss_all_in_flight_kb: 0, samples_all_in_flight: 0};
  const sample = () => {
    const kb = statusKb(pid, 'VmRSS');
    r.peak_rss_kb = Math.max(r.peak_rss_kb, kb);
    if (inFlight.count >= n) {
      r.rss_all_in_flight_kb = Math.max(r.rss_all_in_flight_kb, kb);
      r.samples_all_in_flight++;
    }
  };
  const timer = setInterval(sample, 10);
  return () => {
    clearInterval(timer);
    sample();
    return {...r, vm_hwm_kb: statusKb(pid, 'VmHWM'), threads: Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1])};
  };
}

// CPU seconds per thread name (/proc/<pid>/task/*/comm); threads that ended are not listed.
function threadCpuByName(pid) {
  const out = {};
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/[0-9]+$/, '#');
      out[name] = (out[name] || 0) + procCpuSeconds(`${pid}/task/${tid}`);
    } catch (e) { /* the thread ended meanwhile */ }
  }
  return out;
}

// Signatures the signer released: its audit log's records of Sign* requests it allowed.
function signerSignatures() {
  const file = path.join(E.STACK_DIR, 'signer-audit.jsonl');
  if (!fs.existsSync(file)) return NaN;
  return fs.readFileSync(file, 'utf8').split('\n')
      .filter((l) => l.includes('"decision":"allow"') && /"method":"[^"]*Sign/.test(l)).length;
}

// The orchestrator's log lines of these operations: "step succeeded" (cpu_us, journal_cpu_us: the
// worker thread's CPU over the step, of which in journal writes) and "operation succeeded"
// (cpu_us: the worker's CPU over the whole flow), summed per step.
function stepCpuFromLog(ids) {
  const want = new Set(ids);
  const steps = {};
  let flow = 0;
  const file = path.join(E.STACK_DIR, 'logs', 'orchestrator.log');
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes('succeeded"')) continue;
    let j;
    try { j = JSON.parse(line); } catch (e) { continue; }
    if (!want.has(j.op) || j.cpu_us === undefined) continue;
    if (j.msg === 'operation succeeded') flow += j.cpu_us;
    if (j.msg !== 'step succeeded') continue;
    const s = steps[j.step] || (steps[j.step] = {cpu_us: 0, journal_cpu_us: 0, count: 0});
    s.cpu_us += j.cpu_us;
    s.journal_cpu_us += j.journal_cpu_us || 0;
    s.count++;
  }
  return {flow_cpu_us: flow, steps};
}

// Wraps one orchestrator run (single replica) with the measurements above.
async function measureResources(n, run) {
  const pid = ORCHESTRATOR_PIDS[0];
  inFlight.ids = [];
  const threads0 = threadCpuByName(pid);
  // The signer's background (audit flush timer, gRPC pollers, the orchestrator's health checks),
  // paid with or without signatures: its rate while nothing is signed, just before the run.
  const idle0 = {cpu: procCpuSecondsFine(E.SIGNER_PID), t: process.hrtime.bigint()};
  await new Promise((r) => setTimeout(r, 2000));
  const signerIdlePerSecond = (procCpuSecondsFine(E.SIGNER_PID) - idle0.cpu) / (Number(process.hrtime.bigint() - idle0.t) / 1e9);
  const signer0 = procCpuSecondsFine(E.SIGNER_PID);
  const orchestrator0 = procCpuSecondsFine(pid);
  const sig0 = signerSignatures();
  const stop = rssSampler(pid, n);
  const m = await run();
  m.signer_fine = {cpu_seconds: procCpuSecondsFine(E.SIGNER_PID) - signer0, idle_cpu_per_second: signerIdlePerSecond};
  // The ns clock of the threads alive at each read: a thread that ends during the run is missing
  // (the orchestrator's workers outlive a run: they end after 30 s idle), which the 10 ms tick
  // total counts, to 0.1 ms per deploy at n = 100.
  m.orchestrator_fine_cpu_seconds = procCpuSecondsFine(pid) - orchestrator0;
  m.rss = stop();
  m.signatures = signerSignatures() - sig0;
  const threads1 = threadCpuByName(pid);
  m.thread_cpu_seconds = Object.fromEntries(Object.keys(threads1).map((k) => [k, threads1[k] - (threads0[k] || 0)]));
  m.step_cpu = stepCpuFromLog(inFlight.ids);
  return m;
}

function resourcesText(m) {
  const per = (us) => `${(us / m.n / 1000).toFixed(3)} ms`;
  const total = m.cpu_seconds.orchestrator * 1e6;
  const lines = [`resources of ${m.label}: RSS peak ${(m.rss.peak_rss_kb / 1024).toFixed(1)} MB during the run, ` +
      `${(m.rss.rss_all_in_flight_kb / 1024).toFixed(1)} MB with all ${m.n} in flight (${m.rss.samples_all_in_flight} samples), ` +
      `VmHWM ${(m.rss.vm_hwm_kb / 1024).toFixed(1)} MB, ${m.rss.threads} threads; signer ${m.signatures} signatures, ` +
      `${((m.cpu_seconds.signer / m.signatures) * 1000).toFixed(3)} ms of signer CPU per signature`];
  const f = m.signer_fine;
  const idleShare = (f.idle_cpu_per_second * m.wall_seconds) / m.signatures;
  lines.push(`  signer by the ns clock: ${((f.cpu_seconds / m.signatures) * 1000).toFixed(3)} ms CPU per signature, of ` +
      `which its idle background ${(idleShare * 1000).toFixed(3)} ms (${(f.idle_cpu_per_second * 1000).toFixed(2)} ms/s ` +
      `idle just before x ${m.wall_seconds.toFixed(2)} s); the rest ${((f.cpu_seconds / m.signatures - idleShare) * 1000).toFixed(3)} ms`);
  lines.push(`  orchestrator CPU per deploy ${per(total)}: worker threads running the flow ${per(m.step_cpu.flow_cpu_us)}, ` +
      `the rest (gRPC API and watch streams, Submit, signer client, timers) ${per(total - m.step_cpu.flow_cpu_us)}`);
  lines.push(`  orchestrator by the ns clock (threads alive at the end): ` +
      `${per(m.orchestrator_fine_cpu_seconds * 1e6)} CPU per deploy`);
  for (const [name, s] of Object.entries(m.step_cpu.steps)) {
    lines.push(`  step ${name.padEnd(16)} ${per(s.cpu_us)} CPU per deploy, of which journal writes ${per(s.journal_cpu_us)} (${s.count} runs)`);
  }
  const threads = Object.entries(m.thread_cpu_seconds).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
  const live = threads.reduce((sum, [, v]) => sum + v, 0);
  lines.push(`  by thread name (threads alive at the end, ${per(live * 1e6)} of it): ` +
      `${threads.map(([k, v]) => `${k} ${per(v * 1e6)}`).join(', ')}`);
  return lines.join('\n');
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
    const measured = () => measure(what === 'orchestrator' ? LABEL : what, () => deploys('m', N));
    const m = what === 'orchestrator' && orchs.length === 1 ? await measureResources(N, measured) : await measured();
    await verify(m);
    runs.push(m);
  }
  orchs.forEach((o) => o.close());
  const rows = runs.map(row);
  for (const r of rows) log(r.text);
  for (const m of runs.filter((x) => x.rss)) log(resourcesText(m));
  const o = runs.find((m) => m.label === LABEL);
  const k = runs.find((m) => m.label === 'sdk');
  if (o && k) {
    const ms = (x) => `${((x / N) * 1000).toFixed(2)} ms`;
    log(`bench: throughput orchestrator/SDK ${(o.ops_per_second / k.ops_per_second).toFixed(2)}x; CPU per deploy: ` +
        `orchestrator ${ms(o.cpu_seconds.orchestrator)} (+ signer: ${ms(o.cpu_seconds.orchestrator + o.cpu_seconds.signer)}) ` +
        `vs SDK client ${ms(k.cpu_seconds.node_client)}`);
  }
  const report = {n: N, order: ORDER, label: args.label || '', replicas: orchs.length, cpus: os.cpus().length, loadavg: os.loadavg(), rows: rows.map(({text, ...r}) => r),
    resources: runs.filter((m) => m.rss).map((m) => ({label: m.label, rss: m.rss, signatures: m.signatures, step_cpu: m.step_cpu, thread_cpu_seconds: m.thread_cpu_seconds, orchestrator_fine_cpu_seconds: m.orchestrator_fine_cpu_seconds}))};
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
  // --sdk-n=0: no SDK row (it would have no deploys to count blocks of).
  for (const what of ORDER.filter((x) => x !== 'sdk' || SDK_N > 0)) {
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
