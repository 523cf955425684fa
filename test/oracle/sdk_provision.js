// One provisionCvm with the real @phala/cloud SDK (pinned 0.2.9), to compare what it sends with
// what the orchestrator sends for the same input (the simulator logs both request bodies):
//   PHALA_CLOUD_API_KEY=... node sdk_provision.js <node_modules> <base_url> '<provisionCvm params JSON>'
// Prints one JSON line: {"result": <the SDK's parsed response>} or {"error": "..."}.
'use strict';
const path = require('path');

async function main() {
  const [nodeModules, baseURL, params] = process.argv.slice(2);
  const sdk = require(path.join(nodeModules, '@phala/cloud'));
  const client = sdk.createClient({baseURL});
  try {
    process.stdout.write(JSON.stringify({result: await sdk.provisionCvm(client, JSON.parse(params))}) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({error: String(e && e.message || e)}) + '\n');
  }
}

main().catch((e) => {
  process.stderr.write(`sdk_provision: ${e && e.stack || e}\n`);
  process.exit(1);
});
