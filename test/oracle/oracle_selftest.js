// phala_oracle.js against the worked vectors of ../shared/facts/phala-cloud-api.md (§6, §9),
// which were computed with the real SDK: the oracle is only as good as these.
'use strict';
const assert = require('assert');
const o = require('./phala_oracle.js');

// §6: receiver 01×32, ephemeral 02×32, iv 03×12.
const receiver = '01'.repeat(32);
const vector = 'ce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba05870e587d59030303030303030303030303' +
    'e747c37bc9c6a278cbbf3e38e2360db7ceb3662594671e7369791483b08ba889665501167db2e5606762d56445a7383e4d8a73431b10c1b7' +
    '977ebf1f5893e6c3536bb62b01c61754c7e723a91423a384db5bea4fe7';
const env = [{key: 'FOO', value: 'bar'}, {key: 'X', value: 'a=b "q"'}];
assert.equal(o.x25519PublicKey(receiver), 'a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a209');
assert.equal(o.x25519PublicKey('02'.repeat(32)), 'ce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba05870e587d59');
const d = o.decryptEnv(vector, receiver);
assert.equal(d.plaintext.toString('utf8'), '{"env":[{"key":"FOO","value":"bar"},{"key":"X","value":"a=b \\"q\\""}]}');
assert.deepEqual(d.env, env);
assert.equal(o.encryptEnv(env, o.x25519PublicKey(receiver), '02'.repeat(32), '03'.repeat(12)), vector);
// A flipped bit anywhere fails the tag; a wrong key too.
const flipped = vector.slice(0, 100) + (vector[100] === '0' ? '1' : '0') + vector.slice(101);
assert.throws(() => o.decryptEnv(flipped, receiver));
assert.throws(() => o.decryptEnv(vector, '04'.repeat(32)));

// §9 (b), the full example and the minimal one.
const full = {manifest_version: 2, name: 'my-app', runner: 'docker-compose',
  docker_compose_file: 'services:\n  app:\n    image: nginx:latest\n', kms_enabled: true, gateway_enabled: true,
  public_logs: true, public_sysinfo: true, public_tcbinfo: true, local_key_provider_enabled: false, key_provider_id: '',
  allowed_envs: ['FOO', 'BAR'], no_instance_id: false, secure_time: false, pre_launch_script: '',
  features: ['kms', 'tproxy-net']};
assert.equal(o.serviceComposeHash(full), 'e163df3cf0b85c0dc1ab2f791fc929df14a7ab57d594d608f42cb673f4b7309c');
assert.ok(o.serviceComposeString(full).startsWith('{\n    "allowed_envs":[\n        "FOO",\n        "BAR"\n    ],\n'));
assert.ok(o.serviceComposeString(full).endsWith('\n    "secure_time":false\n}'));
const minimal = {docker_compose_file: 'services: {}\n', name: 'a', manifest_version: 2};
assert.equal(o.serviceComposeString(minimal),
    '{\n    "docker_compose_file":"services: {}\\n",\n    "manifest_version":2,\n    "name":"a"\n}');
assert.equal(o.serviceComposeHash(minimal), 'a237ba8c99fd035640f048e581e9b490434afe38432b6fc55cc7862db3d3aa20');
console.log('oracle_selftest: ok');
