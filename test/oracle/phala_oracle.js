// What Phala Cloud stores, read with code that shares nothing with cloudapi/ (nor with the
// simulator, which is built on it): plain node:crypto and the byte forms written down in
// ../shared/facts/phala-cloud-api.md — §6 (encrypted_env = hex(eph_pub ‖ iv ‖ ct ‖ tag), X25519
// shared secret used directly as the AES-256-GCM key, plaintext JSON {"env":[{key,value}]}) and
// §9 form (b) (the service's compose hash: sha256 of the sorted, 4-space indented JSON with no
// space after the colon). oracle_selftest.js checks it against the facts' worked vectors.
'use strict';
const crypto = require('crypto');

// DER prefixes of an X25519 key (RFC 8410): PKCS#8 for a 32-byte private key, SPKI for a public one.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

function bytes(hex, what, length) {
  const h = String(hex).replace(/^0x/, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(h)) throw new Error(`${what}: not hex`);
  const b = Buffer.from(h, 'hex');
  if (length !== undefined && b.length !== length) throw new Error(`${what}: ${b.length} bytes, want ${length}`);
  return b;
}

function privateKey(hex) {
  return crypto.createPrivateKey({key: Buffer.concat([PKCS8_X25519, bytes(hex, 'private key', 32)]), format: 'der', type: 'pkcs8'});
}

function publicKey(raw) {
  return crypto.createPublicKey({key: Buffer.concat([SPKI_X25519, raw]), format: 'der', type: 'spki'});
}

// The X25519 public key (64 hex) of a private key (64 hex).
function x25519PublicKey(privateHex) {
  const der = crypto.createPublicKey(privateKey(privateHex)).export({format: 'der', type: 'spki'});
  return der.subarray(SPKI_X25519.length).toString('hex');
}

// encrypted_env (hex) -> {plaintext: Buffer, env: [{key, value}], ephemeral_public_key, iv}.
// Throws when the layout, the tag or the JSON is not what §6 says.
function decryptEnv(ciphertextHex, privateHex) {
  const raw = bytes(ciphertextHex, 'encrypted_env');
  if (raw.length < 32 + 12 + 16) throw new Error(`encrypted_env: ${raw.length} bytes, too short`);
  const eph = raw.subarray(0, 32);
  const iv = raw.subarray(32, 44);
  const tag = raw.subarray(raw.length - 16);
  const shared = crypto.diffieHellman({privateKey: privateKey(privateHex), publicKey: publicKey(eph)});
  const d = crypto.createDecipheriv('aes-256-gcm', shared, iv);
  d.setAuthTag(tag);
  const plaintext = Buffer.concat([d.update(raw.subarray(44, raw.length - 16)), d.final()]);
  const doc = JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(plaintext));
  if (doc === null || typeof doc !== 'object' || Object.keys(doc).join() !== 'env' || !Array.isArray(doc.env)) {
    throw new Error('plaintext: want exactly {"env": [...]}');
  }
  for (const e of doc.env) {
    if (Object.keys(e).join() !== 'key,value' || typeof e.key !== 'string' || typeof e.value !== 'string') {
      throw new Error('plaintext: want {"key": string, "value": string} items');
    }
  }
  return {plaintext, env: doc.env, ephemeral_public_key: eph.toString('hex'), iv: iv.toString('hex')};
}

// The inverse, with a chosen ephemeral key and IV (for the facts' deterministic vector).
function encryptEnv(env, publicHex, ephemeralPrivateHex, ivHex) {
  const plaintext = Buffer.from(JSON.stringify({env}), 'utf8');
  const eph = privateKey(ephemeralPrivateHex);
  const shared = crypto.diffieHellman({privateKey: eph, publicKey: publicKey(bytes(publicHex, 'public key', 32))});
  const iv = bytes(ivHex, 'iv', 12);
  const c = crypto.createCipheriv('aes-256-gcm', shared, iv);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([bytes(x25519PublicKey(ephemeralPrivateHex), 'eph'), iv, ct, c.getAuthTag()]).toString('hex');
}

function sorted(v) {
  if (Array.isArray(v)) return v.map(sorted);
  if (v === null || typeof v !== 'object') return v;
  const out = {};
  for (const k of Object.keys(v).sort()) out[k] = sorted(v[k]);
  return out;
}

// §9 (b): the string the service hashes (after its preprocessing) and its sha256 (64 hex).
function serviceComposeString(appCompose) {
  const c = {...appCompose};
  if (c.runner === 'bash') delete c.docker_compose_file;
  if (c.runner === 'docker-compose') delete c.bash_script;
  if ('pre_launch_script' in c && !c.pre_launch_script) delete c.pre_launch_script;
  return JSON.stringify(sorted(c), null, 4).replace(/": /g, '":');
}

function serviceComposeHash(appCompose) {
  return crypto.createHash('sha256').update(serviceComposeString(appCompose), 'utf8').digest('hex');
}

// What the simulator holds for a CVM (GET <admin_url>/cvms/<id>), recomputed here: the compose
// hash of the stored app compose, the app's public key from its private key, and the stored
// encrypted_env decrypted. `admin_url` is e.g. http://127.0.0.1:PORT/_sim.
async function inspectCvm(adminUrl, cvmId) {
  const res = await fetch(`${adminUrl}/cvms/${encodeURIComponent(cvmId)}`);
  if (res.status !== 200) throw new Error(`GET /_sim/cvms/${cvmId}: HTTP ${res.status}`);
  const sim = await res.json();
  const cvm = sim.cvm;
  const out = {
    cvm_id: String(sim.id),
    stored_compose_hash: cvm.compose_hash,
    compose_hash: serviceComposeHash(cvm.app_compose),
    app_compose: cvm.app_compose,
    published_public_key: sim.env_encrypt_public_key,
    public_key: sim.env_encrypt_private_key ? x25519PublicKey(sim.env_encrypt_private_key) : null,
    env: null,
    plaintext_hex: null,
  };
  if (typeof cvm.encrypted_env === 'string') {
    const d = decryptEnv(cvm.encrypted_env, sim.env_encrypt_private_key);
    out.env = d.env;
    out.plaintext_hex = d.plaintext.toString('hex');
  }
  return out;
}

module.exports = {x25519PublicKey, decryptEnv, encryptEnv, serviceComposeString, serviceComposeHash, inspectCvm};
