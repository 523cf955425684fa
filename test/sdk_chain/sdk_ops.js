// Runs the real @phala/cloud SDK (deployAppAuth / addComposeHash / addDevice / removeDevice /
// setAllowAnyDevice) against a JSON-RPC endpoint and
// prints one JSON line: every operation's result and time, and the raw signed transactions the
// SDK sent (captured with a viem transport hook), so a C++ test can compare them byte for byte.
//
//   NODE_PATH=tools/node/node_modules node sdk_ops.js '<json>'
//   json: {rpcUrl, chainId, kms, privateKey, ops: [{kind: "deploy", composeHash, deviceId,
//          allowAnyDevice, disableUpgrades} | {kind: "add", appId, composeHash}
//          | {kind: "addDevice" | "removeDevice", appAddress, deviceId}
//          | {kind: "setAllowAnyDevice", appAddress, allow}]}
'use strict';
const { deployAppAuth, addComposeHash, addDevice, removeDevice, setAllowAnyDevice } = require('@phala/cloud');
const { createPublicClient, createWalletClient, defineChain, http } = require('viem');
const { privateKeyToAccount } = require('viem/accounts');

function plain(value) {
  return JSON.parse(JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

async function main() {
  const args = JSON.parse(process.argv[2]);
  const chain = defineChain({
    id: args.chainId,
    name: `test-${args.chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [args.rpcUrl] } },
  });
  const raws = [];
  const transport = http(args.rpcUrl, {
    onFetchRequest: async (request) => {
      const body = JSON.parse(await request.clone().text());
      for (const call of [].concat(body)) {
        if (call.method === 'eth_sendRawTransaction') raws.push(call.params[0]);
      }
    },
  });
  const account = privateKeyToAccount(args.privateKey);
  const publicClient = createPublicClient({ chain, transport });
  const walletClient = createWalletClient({ account, chain, transport });
  const results = [];
  for (const op of args.ops) {
    const t0 = process.hrtime.bigint();
    let r;
    if (op.kind === 'deploy') {
      r = await deployAppAuth(
        {
          chain,
          kmsContractAddress: args.kms,
          walletClient,
          publicClient,
          composeHash: op.composeHash,
          deviceId: op.deviceId,
          allowAnyDevice: op.allowAnyDevice ?? false,
          disableUpgrades: op.disableUpgrades ?? false,
        },
        { schema: false },
      );
    } else if (op.kind === 'add') {
      r = await addComposeHash(
        { chain, appId: op.appId, composeHash: op.composeHash, walletClient, publicClient },
        { schema: false },
      );
    } else if (op.kind === 'addDevice' || op.kind === 'removeDevice') {
      const call = op.kind === 'addDevice' ? addDevice : removeDevice;
      r = await call({ chain, appAddress: op.appAddress, deviceId: op.deviceId, walletClient, publicClient },
                     { schema: false });
    } else if (op.kind === 'setAllowAnyDevice') {
      r = await setAllowAnyDevice({ chain, appAddress: op.appAddress, allow: op.allow, walletClient, publicClient },
                                  { schema: false });
    } else {
      throw new Error(`unknown op kind ${op.kind}`);
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    results.push({ ...plain(r), ms });
  }
  process.stdout.write('SDK_RESULT ' + JSON.stringify({ results, raws }) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
