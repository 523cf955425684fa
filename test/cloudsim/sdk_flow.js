// The seed's flows with the real @phala/cloud SDK (0.2.9) against the simulator and anvil.
//
//   node sdk_flow.js --node-modules DIR
// Environment: SIM_BASE_URL (…/api/v1), SIM_ADMIN_URL (…/_sim), RPC_URL, API_KEY,
// PRIVATE_KEY (anvil key #0, a public test key).
//
// Every step prints one line; the last line is "SDK_FLOW_OK" on success. Any failure throws and
// exits non-zero with the step's name. What the SDK sent (the env values, encrypted to the app
// key) is compared with what the simulator decrypted, through its /_sim endpoints.
"use strict";

const path = require("path");
const assert = require("assert/strict");

const args = process.argv.slice(2);
const nm = args[args.indexOf("--node-modules") + 1];
if (!nm || args.indexOf("--node-modules") < 0) throw new Error("--node-modules DIR is required");
const sdk = require(path.join(nm, "@phala/cloud"));

const BASE_URL = process.env.SIM_BASE_URL;
const ADMIN_URL = process.env.SIM_ADMIN_URL;
const RPC_URL = process.env.RPC_URL;
const API_KEY = process.env.API_KEY;
const PRIVATE_KEY = process.env.PRIVATE_KEY;
for (const [k, v] of Object.entries({ BASE_URL, ADMIN_URL, RPC_URL, API_KEY, PRIVATE_KEY })) {
  if (!v) throw new Error(`missing environment variable for ${k}`);
}

// The SDK's addComposeHash console.logs receipt logs; keep our output readable.
const realLog = console.log;
function log(...a) {
  realLog(...a);
}
console.log = () => {};

let current = "start";
async function step(name, fn) {
  current = name;
  const t0 = Date.now();
  const r = await fn();
  log(`ok  ${name} (${Date.now() - t0} ms)`);
  return r;
}

async function admin(p) {
  const res = await fetch(ADMIN_URL + p);
  assert.equal(res.status, 200, `GET /_sim${p} -> ${res.status}`);
  return res.json();
}

function hexToBytes(h) {
  return Uint8Array.from(Buffer.from(h.replace(/^0x/, ""), "hex"));
}

// What the simulator decrypted last for a CVM, as {key: value}.
async function arrivedEnv(cvmRef) {
  const s = await admin(`/cvms/${cvmRef}`);
  assert.ok(s.env, "no env record");
  assert.equal(s.env.decrypt_error, null, `decrypt error: ${s.env.decrypt_error}`);
  return { values: s.env.values, notAllowed: s.env.not_allowed, sim: s };
}

function asObject(envs) {
  return Object.fromEntries(envs.map((e) => [e.key, e.value]));
}

async function expectError(promise, check) {
  try {
    await promise;
  } catch (e) {
    check(e);
    return e;
  }
  throw new Error("expected an error");
}

// Registers, with the SDK, the compose hash that a precondition_required answer or a provision
// names, on the app's KMS chain.
function addComposeHashFor(answer) {
  return sdk.addComposeHash({
    chain: answer.kms_info.chain,
    rpcUrl: RPC_URL,
    appId: answer.app_id,
    composeHash: answer.compose_hash,
    privateKey: PRIVATE_KEY,
  });
}

async function main() {
  const client = sdk.createClient({ apiKey: API_KEY, baseURL: BASE_URL });

  await step("getCurrentUser", async () => {
    const me = await client.getCurrentUser();
    assert.equal(typeof me.user.username, "string");
    assert.equal(typeof me.workspace.id, "string");
    const legacy = await sdk.getCurrentUser(sdk.createClient({ apiKey: API_KEY, baseURL: BASE_URL, version: "2025-10-28" }));
    assert.equal(typeof legacy.team_name, "string");
    const bad = sdk.createClient({ apiKey: "not-the-key", baseURL: BASE_URL });
    await expectError(bad.getCurrentUser(), (e) => {
      assert.ok(e instanceof sdk.AuthError, `expected AuthError, got ${e && e.name}`);
      assert.equal(e.status, 401);
    });
  });

  const kms = await step("getKmsList", async () => {
    const all = await client.getKmsList();
    assert.ok(all.items.length >= 3);
    const onchain = await client.getKmsList({ is_onchain: true });
    assert.ok(onchain.items.length >= 2);
    for (const k of onchain.items) {
      assert.equal(k.chain_id, 31337);
      assert.equal(k.chain.id, 31337, "viem chain attached for anvil");
      assert.match(k.kms_contract_address, /^0x[0-9a-fA-F]{40}$/);
    }
    const offchain = await client.getKmsList({ is_onchain: false, page: 1, page_size: 10 });
    assert.equal(offchain.items.length, 1);
    assert.equal(offchain.items[0].chain_id, null);
    const info = await client.getKmsInfo({ kms_id: onchain.items[0].id });
    assert.equal(info.id, onchain.items[0].id);
    await expectError(client.getKmsInfo({ kms_id: "no-such-kms" }), (e) => {
      assert.ok(e instanceof sdk.ResourceError, `expected ResourceError, got ${e && e.name}`);
      assert.equal(e.errorCode, "ERR-02-011");
    });
    return onchain.items.find((k) => k.slug === "base");
  });

  const compose1 = "services:\n  app:\n    image: nginx:1.27\n    environment:\n      - FOO=${FOO}\n";
  const prov = await step("provisionCvm (kms BASE)", async () => {
    const p = await client.provisionCvm({
      name: "sdk-flow-app",
      compose_file: { docker_compose_file: compose1, allowed_envs: ["FOO", "BAR"], gateway_enabled: true },
      kms: "BASE",
      kms_contract: kms.kms_contract_address,
    });
    assert.equal(p.app_id, null);
    assert.match(p.compose_hash, /^[0-9a-f]{64}$/);
    assert.match(p.device_id, /^[0-9a-f]{64}$/);
    assert.equal(p.node_id, 1, "teepod_id transformed to node_id");
    assert.equal(p.kms_info.chain.id, 31337);
    return p;
  });

  const dep = await step("deployAppAuth", async () => {
    const d = await sdk.deployAppAuth({
      chain: prov.kms_info.chain,
      rpcUrl: RPC_URL,
      kmsContractAddress: prov.kms_info.kms_contract_address,
      privateKey: PRIVATE_KEY,
      deviceId: prov.device_id,
      composeHash: prov.compose_hash,
    });
    assert.match(d.appId, /^0x[0-9a-fA-F]{40}$/);
    return d;
  });
  const appId = dep.appId.slice(2).toLowerCase();
  const kmsRef = prov.kms_info.slug || prov.kms_info.id;

  const pub = await step("getAppEnvEncryptPubKey", async () => {
    const pk = await client.getAppEnvEncryptPubKey({ app_id: dep.appId, kms: kmsRef });
    assert.match(pk.public_key, /^[0-9a-f]{64}$/);
    assert.match(pk.signature, /^[0-9a-f]{130}$/);
    // The SDK's own verifier recovers the simulator's KMS signing key.
    const signer = sdk.verifyEnvEncryptPublicKey(hexToBytes(pk.public_key), hexToBytes(pk.signature), dep.appId);
    const k = (await admin("/kms")).kms.find((x) => x.slug === kmsRef);
    assert.equal(signer, k.signer_public_key);
    return pk.public_key;
  });

  const envs1 = [
    { key: "FOO", value: "foo-1" },
    { key: "BAR", value: 'bar "quoted" = é ✓\nline2' },
  ];
  const cvm = await step("encryptEnvVars + commitCvmProvision", async () => {
    const encrypted = await sdk.encryptEnvVars(envs1, pub);
    const c = await client.commitCvmProvision({
      app_id: dep.appId,
      encrypted_env: encrypted,
      compose_hash: prov.compose_hash,
      kms_id: kmsRef,
      contract_address: dep.appAuthAddress,
      deployer_address: dep.deployer,
    });
    assert.equal(c.app_id, appId);
    assert.equal(c.name, "sdk-flow-app");
    const arrived = await arrivedEnv(c.vm_uuid.replace(/-/g, ""));
    assert.deepEqual(arrived.values, asObject(envs1));
    assert.deepEqual(arrived.notAllowed, []);
    // Committing the same app id again: isAppIdConflictError.
    await expectError(
      client.commitCvmProvision({ app_id: dep.appId, encrypted_env: encrypted, compose_hash: prov.compose_hash, kms_id: kmsRef }),
      (e) => assert.ok(sdk.isAppIdConflictError(e), `expected app id conflict, got ${e && e.message}`),
    );
    return c;
  });

  const info = await step("getCvmInfo + getCvmComposeFile().getHash()", async () => {
    const i = await client.getCvmInfo({ id: cvm.vm_uuid });
    assert.equal(i.app_id, appId);
    assert.equal(i.kms_type, "base");
    assert.equal(i.kms_info.chain.id, 31337);
    assert.equal(i.kms_info.dstack_app_address.toLowerCase(), dep.appId.toLowerCase());
    assert.equal(i.compose_hash, prov.compose_hash);
    const byApp = await client.getCvmInfo({ app_id: appId });
    assert.equal(byApp.id, i.id);
    const byName = await client.getCvmInfo({ name: "sdk-flow-app" });
    assert.equal(byName.id, i.id);
    const cf = await client.getCvmComposeFile({ id: i.id });
    assert.equal(cf.getHash(), prov.compose_hash, "the SDK's getHash() predicts the service's compose hash");
    assert.deepEqual(cf.allowed_envs, ["FOO", "BAR"]);
    const legacy = await sdk.getCvmInfo(sdk.createClient({ apiKey: API_KEY, baseURL: BASE_URL, version: "2025-10-28" }), { id: i.id });
    assert.equal(typeof legacy.id, "number");
    return i;
  });
  const cvmRef = { id: info.id };

  await step("getCvmList + getAvailableNodes (the SDK's zod schemas), device ids agree", async () => {
    const page = await sdk.getCvmList(client, { page: 1, page_size: 1 });
    assert.equal(page.page, 1);
    assert.equal(page.page_size, 1);
    assert.equal(page.items.length, 1);
    assert.ok(page.total >= 1);
    assert.equal(page.pages, page.total);
    let found = null;
    for (let p = 1; p <= page.pages && !found; ++p) {
      found = (await sdk.getCvmList(client, { page: p, page_size: 1 })).items.find((c) => c.id === info.id);
    }
    assert.ok(found, "the CVM is listed");
    assert.equal(found.status, "running");
    assert.equal(found.compose_hash, prov.compose_hash);
    assert.equal(found.node_info.id, 1);
    const onNode2 = await sdk.getCvmList(client, { node_id: 2 });
    assert.ok(onNode2.items.every((c) => c.node_info.id === 2));
    const avail = await sdk.getAvailableNodes(client);
    assert.equal(avail.nodes.length, 2);
    assert.deepEqual(avail.nodes.map((n) => n.teepod_id), [1, 2]);
    assert.equal(avail.nodes[0].device_id, info.node_info.device_id, "the node's device id is the CVM's");
    assert.equal(avail.nodes[0].device_id, prov.device_id, "and the one provision reported");
    assert.ok(avail.kms_list.length >= 3);
    log(`    ${page.total} CVMs; nodes ${avail.nodes.map((n) => `${n.teepod_id}:${n.device_id.slice(0, 8)}…`).join(", ")}`);
  });

  await step("updateCvmEnvs, same keys -> applied in one call", async () => {
    const envs = [
      { key: "FOO", value: "foo-2" },
      { key: "BAR", value: "bar-2" },
    ];
    const r = await client.updateCvmEnvs({
      ...cvmRef,
      encrypted_env: await sdk.encryptEnvVars(envs, pub),
      env_keys: ["FOO", "BAR"],
    });
    assert.equal(r.status, "in_progress");
    assert.equal(r.allowed_envs_changed, false);
    assert.deepEqual((await arrivedEnv(info.id)).values, asObject(envs));
  });

  let envsTx;
  await step("updateCvmEnvs, changed keys -> precondition_required -> addComposeHash -> retry", async () => {
    const envs = [
      { key: "FOO", value: "foo-3" },
      { key: "BAR", value: "bar-3" },
      { key: "NEW_KEY", value: "new-3" },
    ];
    const request = {
      app_id: appId,
      encrypted_env: await sdk.encryptEnvVars(envs, pub),
      env_keys: envs.map((e) => e.key),
    };
    const pre = await client.updateCvmEnvs(request);
    assert.equal(pre.status, "precondition_required");
    assert.equal(pre.app_id, appId);
    assert.equal(pre.device_id, prov.device_id);
    assert.equal(pre.kms_info.chain.id, 31337);
    assert.notEqual(pre.compose_hash, prov.compose_hash);
    const added = await addComposeHashFor(pre);
    envsTx = added.transactionHash;
    const r = await client.updateCvmEnvs({ ...request, compose_hash: pre.compose_hash, transaction_hash: added.transactionHash });
    assert.equal(r.status, "in_progress");
    assert.equal(r.allowed_envs_changed, true);
    assert.deepEqual((await arrivedEnv(info.id)).values, asObject(envs));
    const now = await client.getCvmInfo(cvmRef);
    assert.equal(now.compose_hash, pre.compose_hash);
    assert.equal((await client.getCvmComposeFile(cvmRef)).getHash(), pre.compose_hash);
  });

  await step("a retry with a bad transaction_hash is refused", async () => {
    const envs = [{ key: "FOO", value: "foo-4" }];
    const request = { ...cvmRef, encrypted_env: await sdk.encryptEnvVars(envs, pub), env_keys: ["FOO"] };
    const pre = await client.updateCvmEnvs(request);
    assert.equal(pre.status, "precondition_required");
    // A hash no node knows, then a real, mined transaction that registered another hash.
    for (const tx of ["0x" + "ab".repeat(32), envsTx]) {
      await expectError(client.updateCvmEnvs({ ...request, compose_hash: pre.compose_hash, transaction_hash: tx }), (e) => {
        assert.ok(e instanceof sdk.ResourceError, `expected ResourceError, got ${e && e.name}: ${e && e.message}`);
        assert.equal(e.errorCode, "ERR-01-007");
        assert.equal(e.status, 467);
      });
    }
    // A compose hash that is not the one of this change.
    await expectError(client.updateCvmEnvs({ ...request, compose_hash: prov.compose_hash, transaction_hash: envsTx }), (e) => {
      assert.equal(e.errorCode, "ERR-01-006");
    });
    const unchanged = await client.getCvmInfo(cvmRef);
    assert.notEqual(unchanged.compose_hash, pre.compose_hash);
  });

  const compose2 = "services:\n  app:\n    image: nginx:1.28\n";
  await step("updateDockerCompose -> precondition_required -> addComposeHash -> retry (headers)", async () => {
    const pre = await client.updateDockerCompose({ ...cvmRef, docker_compose_file: compose2 });
    assert.equal(pre.status, "precondition_required");
    const added = await addComposeHashFor(pre);
    const r = await client.updateDockerCompose({
      ...cvmRef,
      docker_compose_file: compose2,
      compose_hash: pre.compose_hash,
      transaction_hash: added.transactionHash,
    });
    assert.equal(r.status, "in_progress");
    assert.equal(await client.getCvmDockerCompose(cvmRef), compose2);
    assert.equal((await client.getCvmInfo(cvmRef)).compose_hash, pre.compose_hash);
    // The proof travelled in headers, the YAML as a text/yaml body.
    const path = `/api/v1/cvms/${info.id}/docker-compose`;
    const reqs = (await admin("/requests?path_prefix=" + encodeURIComponent(path))).requests.filter(
      (q) => q.method === "PATCH" && q.path === path,
    );
    assert.equal(reqs.length, 2, "phase 1 and phase 2");
    assert.equal(reqs[0].status, 465);
    assert.equal(reqs[0].headers["x-compose-hash"], undefined);
    const last = reqs[1];
    assert.equal(last.status, 200);
    assert.equal(last.headers["x-compose-hash"], pre.compose_hash);
    assert.equal(last.headers["x-transaction-hash"], added.transactionHash);
    assert.equal(last.headers["content-type"], "text/yaml");
    assert.equal(last.body, compose2);
  });

  await step("compose-file API: get -> provision -> addComposeHash -> commit", async () => {
    const current = await client.getCvmComposeFile(cvmRef);
    const { getHash, toString, ...plain } = current;
    const next = { ...plain, docker_compose_file: "services:\n  app:\n    image: nginx:1.29\n", public_logs: false };
    const p = await client.provisionCvmComposeFileUpdate({ app_id: appId, app_compose: next });
    assert.match(p.compose_hash, /^[0-9a-f]{64}$/);
    assert.equal(p.compose_hash_registered, false);
    assert.equal(p.kms_info.chain.id, 31337);
    // Not yet on chain: the commit is refused.
    await expectError(client.commitCvmComposeFileUpdate({ app_id: appId, compose_hash: p.compose_hash }), (e) => {
      assert.equal(e.errorCode, "ERR-01-008");
    });
    await addComposeHashFor(p);
    const again = await client.provisionCvmComposeFileUpdate({ id: info.id, app_compose: next });
    assert.equal(again.compose_hash, p.compose_hash);
    assert.equal(again.compose_hash_registered, true);
    const envs = [{ key: "FOO", value: "via-compose-file" }];
    const r = await client.commitCvmComposeFileUpdate({
      app_id: appId,
      compose_hash: p.compose_hash,
      encrypted_env: await sdk.encryptEnvVars(envs, pub),
      env_keys: ["FOO"],
    });
    assert.equal(r, undefined);
    const after = await client.getCvmInfo(cvmRef);
    assert.equal(after.compose_hash, p.compose_hash);
    assert.equal(after.public_logs, false);
    assert.equal((await client.getCvmComposeFile(cvmRef)).getHash(), p.compose_hash);
    assert.deepEqual((await arrivedEnv(info.id)).values, asObject(envs));
  });

  await step("PHALA KMS: provision (app id + pubkey from the service) -> commit", async () => {
    const p = await client.provisionCvm({
      name: "sdk-phala-app",
      compose_file: { docker_compose_file: compose1, allowed_envs: ["FOO"] },
    });
    assert.match(p.app_id, /^[0-9a-f]{40}$/);
    assert.match(p.app_env_encrypt_pubkey, /^[0-9a-f]{64}$/);
    assert.equal(p.kms_info.slug, "phala");
    const envs = [{ key: "FOO", value: "phala-foo" }];
    const c = await client.commitCvmProvision({
      app_id: p.app_id,
      encrypted_env: await sdk.encryptEnvVars(envs, p.app_env_encrypt_pubkey),
      compose_hash: p.compose_hash,
      kms_id: p.kms_info.id,
    });
    assert.equal(c.app_id, p.app_id);
    assert.deepEqual((await arrivedEnv("app_" + p.app_id)).values, asObject(envs));
    const r = await client.updateCvmEnvs({
      app_id: p.app_id,
      encrypted_env: await sdk.encryptEnvVars([{ key: "OTHER", value: "o" }], p.app_env_encrypt_pubkey),
      env_keys: ["OTHER"],
    });
    assert.equal(r.status, "in_progress");
    assert.equal(r.allowed_envs_changed, true);
  });

  await step("validation errors reach the SDK as ValidationError", async () => {
    const raw = await client.safeCommitCvmProvision({ compose_hash: "x" });
    assert.equal(raw.success, false);
    assert.ok(raw.error instanceof sdk.ValidationError, `got ${raw.error && raw.error.name}`);
    assert.equal(raw.error.status, 422);
  });

  await step("fault switches as the SDK's HTTP client (ofetch) sees them", async () => {
    const setFault = (rule) =>
      fetch(ADMIN_URL + "/faults", { method: "POST", body: JSON.stringify(rule) }).then((r) => assert.equal(r.status, 200));
    const clearFaults = () => fetch(ADMIN_URL + "/faults", { method: "DELETE" });
    const attempts = async (method, p, since) =>
      (await admin(`/requests?since=${since}&path_prefix=${encodeURIComponent(p)}`)).requests.filter(
        (q) => q.method === method && q.path === p,
      );
    const lastSeq = async () => {
      const all = (await admin("/requests")).requests;
      return all.length ? all[all.length - 1].seq : 0;
    };
    // A GET that gets one 503 is retried once, at once, and succeeds.
    let since = await lastSeq();
    await setFault({ kind: "error", status: 503, method: "GET", path_prefix: "/kms", nth: 1 });
    const kmsList = await client.getKmsList();
    assert.ok(kmsList.items.length >= 3);
    let tries = await attempts("GET", "/api/v1/kms", since);
    assert.deepEqual(tries.map((q) => q.status), [503, 200]);
    await clearFaults();
    // 429 + Retry-After: one retry, without waiting for Retry-After.
    since = await lastSeq();
    await setFault({ kind: "rate_limit", retry_after: 5, path_prefix: "/auth/me", times: 1 });
    const t0 = Date.now();
    await client.getCurrentUser();
    const waited = Date.now() - t0;
    tries = await attempts("GET", "/api/v1/auth/me", since);
    assert.deepEqual(tries.map((q) => q.status), [429, 200]);
    assert.ok(waited < 4000, `the SDK waited ${waited} ms: it does honour Retry-After`);
    await clearFaults();
    // A dropped connection on a GET: retried once as well.
    since = await lastSeq();
    await setFault({ kind: "drop", method: "GET", path_prefix: "/kms", nth: 1 });
    await client.getKmsList();
    tries = await attempts("GET", "/api/v1/kms", since);
    assert.deepEqual(tries.map((q) => q.status), [0, 200]);
    await clearFaults();
    // A PATCH is never retried: the 503 reaches the caller as ServerError.
    since = await lastSeq();
    await setFault({ kind: "error", status: 503, method: "PATCH", path_prefix: "/cvms", nth: 1 });
    await expectError(
      client.updateCvmEnvs({ ...cvmRef, encrypted_env: await sdk.encryptEnvVars([{ key: "FOO", value: "z" }], pub), env_keys: ["FOO"] }),
      (e) => {
        assert.ok(e instanceof sdk.ServerError, `expected ServerError, got ${e && e.name}`);
        assert.equal(e.status, 503);
      },
    );
    tries = await attempts("PATCH", `/api/v1/cvms/${info.id}/envs`, since);
    assert.equal(tries.length, 1);
    await clearFaults();
    // Latency within the SDK's 30 s timeout is just slower.
    await setFault({ kind: "latency", latency_ms: 300, path_prefix: "/kms", times: 1 });
    const t1 = Date.now();
    await client.getKmsList();
    assert.ok(Date.now() - t1 >= 300);
    await clearFaults();
    // What the SDK sends besides the key: Accept per method.
    const recent = (await admin(`/requests?since=${since}`)).requests;
    const get = recent.find((q) => q.method === "GET");
    const patch = recent.find((q) => q.method === "PATCH");
    log(`    accept: GET ${JSON.stringify(get.headers.accept)}, PATCH ${JSON.stringify(patch.headers.accept)}; ` +
        `content-type: PATCH ${JSON.stringify(patch.headers["content-type"])}`);
  });

  await step("request log: what arrived, never the API key", async () => {
    const all = await fetch(ADMIN_URL + "/requests").then((r) => r.text());
    assert.ok(!all.includes(API_KEY), "the API key must never be logged");
    const reqs = JSON.parse(all).requests;
    assert.ok(reqs.length > 20);
    const provision = reqs.find((r) => r.path === "/api/v1/cvms/provision");
    assert.equal(provision.headers["x-phala-version"], "2026-01-21");
    assert.equal(provision.body.instance_type, "tdx.small", "the SDK fills in the default instance type");
    log(`    ${reqs.length} requests logged; user-agent ${JSON.stringify(provision.headers["user-agent"])}`);
  });

  log("SDK_FLOW_OK");
}

main().then(
  () => process.exit(0),
  (e) => {
    log(`FAILED in step "${current}": ${e && e.stack ? e.stack : e}`);
    if (e && e.detail) log(`detail: ${JSON.stringify(e.detail)}`);
    process.exit(1);
  },
);
