// Node client checks against the running signer and orchestrator binaries (started by
// reflection_test.cc, which passes their addresses in the environment):
//  1. the grpcurl workflow through server reflection alone: list services, describe a method,
//     call grpc.health.v1.Health/Check and a service RPC from plain JSON objects;
//  2. our .proto files load with @grpc/proto-loader and make working clients.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { GrpcReflection } = require('grpc-js-reflection-client');

const SIGNER = process.env.SIGNER_ADDRESS;        // e.g. unix:/tmp/okms-x/signer.sock
const ORCHESTRATOR = process.env.ORCHESTRATOR_ADDRESS;
const PROTO_DIR = process.env.PROTO_DIR;          // the repository's proto/ folder
assert.ok(SIGNER && ORCHESTRATOR && PROTO_DIR, 'SIGNER_ADDRESS, ORCHESTRATOR_ADDRESS and PROTO_DIR must be set');

const insecure = () => grpc.credentials.createInsecure();
// The options a grpcurl-like tool or a JSON-minded client uses.
const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 10000);
    client[method](request, { deadline }, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

// Follows a dotted name ("grpc.health.v1.Health") in a grpc-js package object.
function lookup(pkg, name) {
  return name.split('.').reduce((obj, part) => {
    assert.ok(obj && part in obj, `${name}: ${part} not found`);
    return obj[part];
  }, pkg);
}

const closers = [];
test.after(() => closers.forEach((close) => close()));

function reflectionClient(address) {
  const client = new GrpcReflection(address, insecure());
  closers.push(() => client.client.close());  // the wrapped grpc-js client
  return client;
}

async function clientFromReflection(address, serviceName) {
  const descriptor = await reflectionClient(address).getDescriptorBySymbol(serviceName);
  const Service = lookup(descriptor.getPackageObject(LOADER_OPTIONS), serviceName);
  const client = new Service(address, insecure());
  closers.push(() => client.close());
  return client;
}

for (const [server, address, serviceName] of [
  ['signer', SIGNER, 'onchainkms.signer.v1.Signer'],
  ['orchestrator', ORCHESTRATOR, 'onchainkms.orchestrator.v1.Orchestrator'],
]) {
  test(`${server}: reflection lists the service, health and reflection`, async () => {
    const services = await reflectionClient(address).listServices();
    for (const expected of [serviceName, 'grpc.health.v1.Health', 'grpc.reflection.v1alpha.ServerReflection']) {
      assert.ok(services.includes(expected), `${expected} missing from ${JSON.stringify(services)}`);
    }
    const other = server === 'signer' ? 'onchainkms.orchestrator.v1.Orchestrator' : 'onchainkms.signer.v1.Signer';
    assert.ok(!services.includes(other), `${other} must not be served by the ${server}`);
  });

  test(`${server}: Health/Check through reflection alone`, async () => {
    const health = await clientFromReflection(address, 'grpc.health.v1.Health');
    assert.deepEqual(await unary(health, 'Check', { service: '' }), { status: 'SERVING' });
    assert.deepEqual(await unary(health, 'Check', { service: serviceName }), { status: 'SERVING' });
    await assert.rejects(unary(health, 'Check', { service: 'no.such.Service' }),
      (err) => err.code === grpc.status.NOT_FOUND);
  });
}

test('signer: describe a method through reflection', async () => {
  const methods = await reflectionClient(SIGNER).listMethods('onchainkms.signer.v1.Signer');
  assert.deepEqual(methods.map((m) => m.name).sort(), [
    'GetKey', 'ListKeys', 'SignAddComposeHash', 'SignAppCall', 'SignBatch', 'SignDeployAndRegisterApp',
    'SignMessage', 'SignTransaction',
  ]);
  const deploy = methods.find((m) => m.name === 'SignDeployAndRegisterApp').definition;
  assert.equal(deploy.path, '/onchainkms.signer.v1.Signer/SignDeployAndRegisterApp');
  assert.equal(deploy.requestStream, false);
  assert.equal(deploy.responseStream, false);
  // The request type as reflection describes it: 0x-hex strings, decimal wei strings, uint64s.
  const request = deploy.requestType.type;
  assert.equal(request.name, 'SignDeployAndRegisterAppRequest');
  const fields = Object.fromEntries(request.field.map((f) => [f.name, f.type]));
  assert.equal(fields.kms_contract_address, 'TYPE_STRING');
  assert.equal(fields.max_fee_per_gas_wei, 'TYPE_STRING');
  assert.equal(fields.chain_id, 'TYPE_UINT64');
  assert.equal(fields.nonce, 'TYPE_UINT64');
  assert.equal(fields.require_tcb_up_to_date, 'TYPE_BOOL');
  // An encoded request decodes back to the same JSON values (what grpcurl -d '{...}' does).
  const encoded = deploy.requestSerialize({ chain_id: '8453', max_fee_per_gas_wei: '1500000000',
    initial_compose_hash: '0x' + '11'.repeat(32) });
  const decoded = deploy.requestDeserialize(encoded);
  assert.equal(decoded.chain_id, '8453');
  assert.equal(decoded.max_fee_per_gas_wei, '1500000000');
});

test('orchestrator: describe the streaming method through reflection', async () => {
  const methods = await reflectionClient(ORCHESTRATOR).listMethods('onchainkms.orchestrator.v1.Orchestrator');
  assert.deepEqual(methods.map((m) => m.name).sort(), [
    'AddComposeHash', 'AdoptResource', 'CancelOperation', 'DeployCvm', 'GetAppState', 'GetCvm', 'GetOperation',
    'ListCvms', 'ListKmsInstances', 'ListNodes', 'ListOperations', 'SubmitOwnerTransaction', 'SupplyEnvVars',
    'UpdateAppContract', 'UpdateComposeFile', 'UpdateDockerCompose', 'UpdateEnvVars', 'WatchOperation',
  ]);
  const watch = methods.find((m) => m.name === 'WatchOperation').definition;
  assert.equal(watch.responseStream, true);
  assert.equal(watch.responseType.type.name, 'OperationEvent');
});

test('signer: service RPCs called through reflection alone answer', async () => {
  const signer = await clientFromReflection(SIGNER, 'onchainkms.signer.v1.Signer');
  // The stack's signer holds anvil's public test key #0 and nothing else.
  const key = await unary(signer, 'GetKey', { address: '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266' });
  assert.equal(key.address, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', 'addresses come back EIP-55');
  const other = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
  await assert.rejects(unary(signer, 'GetKey', { address: other }),
    (err) => err.code === grpc.status.NOT_FOUND && err.details.includes(other));
});

// --- our proto files, loaded the ordinary way ---

function loadProtos(files) {
  const definition = protoLoader.loadSync(files, { ...LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
  return grpc.loadPackageDefinition(definition);
}

test('proto-loader: the signer package loads on its own and calls the server', async () => {
  const pkg = loadProtos(['onchainkms/signer/v1/signer.proto', 'onchainkms/signer/v1/policy.proto',
    'onchainkms/signer/v1/config.proto']);
  const v1 = pkg.onchainkms.signer.v1;
  assert.ok(!('orchestrator' in pkg.onchainkms), 'the signer package must not pull in the orchestrator');
  for (const type of ['Policy', 'ChainPolicy', 'SignerConfig', 'SignedTransaction']) assert.ok(v1[type], type);
  const client = new v1.Signer(SIGNER, insecure());
  closers.push(() => client.close());
  await assert.rejects(unary(client, 'SignAddComposeHash', {
    chain_id: '8453', app_contract_address: '0x' + 'ab'.repeat(20), compose_hash: 'cd'.repeat(32),
  }), (err) => err.code === grpc.status.INVALID_ARGUMENT && /from_address/.test(err.details));
});

test('proto-loader: the orchestrator package loads on its own; unary and streaming calls work', async () => {
  const pkg = loadProtos(['onchainkms/orchestrator/v1/orchestrator.proto', 'onchainkms/orchestrator/v1/config.proto']);
  const v1 = pkg.onchainkms.orchestrator.v1;
  assert.ok(!('signer' in pkg.onchainkms), 'the orchestrator package must not pull in the signer');
  const client = new v1.Orchestrator(ORCHESTRATOR, insecure());
  closers.push(() => client.close());
  // The simulator lists one centralized and two on-chain KMS entries on the local chain.
  const kms = await unary(client, 'ListKmsInstances', { onchain_only: true });
  assert.ok(kms.kms_instances.length >= 1, 'at least one on-chain KMS');
  for (const k of kms.kms_instances) assert.match(k.kms_contract_address, /^0x[0-9a-fA-F]{40}$/);
  // A bad request names the field and starts nothing.
  await assert.rejects(unary(client, 'DeployCvm', {
    request_id: 'r-1', name: 'x', kms_type: 'KMS_TYPE_ETHEREUM',
    compose: { docker_compose_file: 'services: {}\n', gateway_enabled: true },
    env_vars: [{ key: 'FOO', value: 'bar' }],
  }), (err) => err.code === grpc.status.INVALID_ARGUMENT && /name/.test(err.details));
  const status = await new Promise((resolve) => {
    const call = client.WatchOperation({ operation_id: 'op_does_not_exist' });
    call.on('data', () => assert.fail('no event expected'));
    call.on('error', (err) => resolve(err.code));
  });
  assert.ok([grpc.status.NOT_FOUND, grpc.status.INVALID_ARGUMENT].includes(status), `watch of an unknown id: ${status}`);
});

test('proto-loader: health.proto as shipped with the repository', async () => {
  const pkg = loadProtos(['grpc/health/v1/health.proto']);
  const client = new pkg.grpc.health.v1.Health(ORCHESTRATOR, insecure());
  closers.push(() => client.close());
  assert.equal((await unary(client, 'Check', { service: 'onchainkms.orchestrator.v1.Orchestrator' })).status, 'SERVING');
});

test('proto3 JSON view: 0x-hex and decimal strings survive unchanged', () => {
  const definition = protoLoader.loadSync(['onchainkms/signer/v1/signer.proto'], { ...LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
  const type = definition['onchainkms.signer.v1.SignedTransaction'];
  assert.ok(type && type.format === 'Protocol Buffer 3 DescriptorProto');
  const fields = Object.fromEntries(type.type.field.map((f) => [f.name, f.type]));
  for (const name of ['raw_transaction', 'transaction_hash', 'from_address', 'to', 'data', 'value_wei']) {
    assert.equal(fields[name], 'TYPE_STRING', name);
  }
  assert.equal(fields.nonce_use, 'TYPE_ENUM');
});
