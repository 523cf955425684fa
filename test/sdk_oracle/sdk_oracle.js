// Runs a table of cases through the real @phala/cloud SDK in one node process.
//   node sdk_oracle.js <node_modules dir> <in.json> <out.json>
// in.json:  { env_texts: [string], compose_docs: [json text],
//             encrypt: [{vars: [{key, value}], public_key: hex, private_key: hex}],
//             decrypt: [{ciphertext: hex, private_key: hex}] }
// out.json: { sdk_version, dstack_sdk_version, env: [[{key, value}]],
//             compose: [{compact, compact_normalized, indented, compact_input, indented_input,
//                        dump}],
//             encrypted: [hex], decrypted: [{vars} | {error}],
//             independent: {sdk: [plaintext hex], ours: [plaintext hex]} }
// `independent` decrypts the SDK's ciphertexts and ours with the same code, ../oracle/phala_oracle.js
// (plain node:crypto, neither the SDK's primitives nor cloudapi/), for a byte-for-byte comparison.
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");
const phalaOracle = require("../oracle/phala_oracle.js");

async function main() {
  const [nodeModules, inPath, outPath] = process.argv.slice(2);
  const cloud = require(path.join(nodeModules, "@phala/cloud"));
  const cloudPkg = require(path.join(nodeModules, "@phala/cloud/package.json"));
  // Resolve @noble/curves exactly as @phala/dstack-sdk (whose encryptEnvVars we mirror) does.
  const dstackRequire = createRequire(path.join(nodeModules, "@phala/dstack-sdk/package.json"));
  const dstackPkg = dstackRequire("./package.json");
  const { x25519 } = dstackRequire("@noble/curves/ed25519");
  const subtle = require("crypto").webcrypto.subtle;

  const input = JSON.parse(fs.readFileSync(inPath, "utf8"));
  const out = {
    sdk_version: cloudPkg.version,
    dstack_sdk_version: dstackPkg.version,
    env: [],
    compose: [],
    encrypted: [],
    decrypted: [],
    independent: { sdk: [], ours: [] },
  };

  for (const text of input.env_texts) out.env.push(cloud.parseEnvVars(text));

  for (const text of input.compose_docs) {
    const doc = JSON.parse(text);
    out.compose.push({
      compact: cloud.getComposeHash(doc),
      compact_normalized: cloud.getComposeHash(doc, true),
      indented: cloud.withComposeMethods(doc).getHash(),
      compact_input: JSON.stringify(cloud.sortObject(doc)),
      indented_input: cloud.withComposeMethods(doc).toString(),
      dump: cloud.dumpAppCompose(doc),
    });
  }

  for (const c of input.encrypt) out.encrypted.push(await cloud.encryptEnvVars(c.vars, c.public_key));
  const plaintextHex = (ciphertext, privateKey) => {
    try {
      return phalaOracle.decryptEnv(ciphertext, privateKey).plaintext.toString("hex");
    } catch (e) {
      return `error: ${e && e.message || e}`;
    }
  };
  input.encrypt.forEach((c, i) => out.independent.sdk.push(plaintextHex(out.encrypted[i], c.private_key)));
  for (const c of input.decrypt) out.independent.ours.push(plaintextHex(c.ciphertext, c.private_key));

  // The inverse of encryptEnvVars with the SDK's own primitives: noble x25519, WebCrypto AES-GCM.
  for (const c of input.decrypt) {
    try {
      const raw = Buffer.from(c.ciphertext, "hex");
      const shared = x25519.getSharedSecret(Buffer.from(c.private_key, "hex"), raw.subarray(0, 32));
      const key = await subtle.importKey("raw", shared, { name: "AES-GCM" }, false, ["decrypt"]);
      const plain = await subtle.decrypt({ name: "AES-GCM", iv: raw.subarray(32, 44) }, key,
                                         raw.subarray(44));
      const text = new TextDecoder("utf-8", { fatal: true }).decode(plain);
      out.decrypted.push({ vars: JSON.parse(text).env, plaintext: text });
    } catch (e) {
      out.decrypted.push({ error: String(e && e.message || e) });
    }
  }

  fs.writeFileSync(outPath, JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
