#!/usr/bin/env node
// Compiles test/contracts/src/*.sol with the pinned npm solc (0.8.24, optimizer 200 runs) into
// test/contracts/artifacts/<Contract>.json. Artifacts are committed so builds and tests need no
// compiler; //test/contracts:artifacts_fresh_test runs this script with --check to catch drift.
//
//   node test/contracts/compile.js            regenerate the artifacts
//   node test/contracts/compile.js --check    exit 1 if the committed artifacts are stale
//
// Options (defaults are relative to this script's real location, so the plain form works from
// anywhere in the checkout): --src DIR, --out DIR, --node-modules DIR (tools/node/node_modules).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const SOLC_VERSION = '0.8.24';
// cancun: what upstream HEAD builds with; Ethereum, Base and anvil all run it.
const SETTINGS = {
  optimizer: {enabled: true, runs: 200},
  evmVersion: 'cancun',
  outputSelection: {'*': {'*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object']}},
};

function parseArgs(argv) {
  const here = __dirname;  // node resolves the main script's symlinks, so this is the source dir
  const opts = {
    check: false,
    src: path.join(here, 'src'),
    out: path.join(here, 'artifacts'),
    nodeModules: path.join(here, '..', '..', 'tools', 'node', 'node_modules'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--check') opts.check = true;
    else if (a === '--src') opts.src = value();
    else if (a === '--out') opts.out = value();
    else if (a === '--node-modules') opts.nodeModules = value();
    else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

function sha256(text) {
  return crypto.createHash('sha256').update(text).digest('hex');
}

// Every .sol file under src, keyed by its path relative to src. These relative names are the
// solc source unit names, so the metadata (and thus the bytecode) does not depend on where the
// checkout lives.
function readSources(srcDir) {
  const names = fs.readdirSync(srcDir).filter((f) => f.endsWith('.sol')).sort();
  if (names.length === 0) throw new Error(`no .sol files in ${srcDir}`);
  const sources = {};
  for (const n of names) sources[n] = fs.readFileSync(path.join(srcDir, n), 'utf8');
  return sources;
}

// One digest over all sources: sha256 of "name\0sha256(content)\n" lines in name order.
function sourcesDigest(sources) {
  return sha256(Object.keys(sources).sort().map((n) => `${n}\0${sha256(sources[n])}\n`).join(''));
}

function compile(solc, sources) {
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries(Object.entries(sources).map(([n, c]) => [n, {content: c}])),
    settings: SETTINGS,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = (output.errors || []).filter((e) => e.severity !== 'info');
  if (problems.length > 0) {
    // Warnings fail too: the contracts are small enough to keep clean.
    throw new Error('solc reported problems:\n' + problems.map((e) => e.formattedMessage).join('\n'));
  }
  return output.contracts;
}

function buildArtifacts(solc, sources) {
  const version = solc.version();
  if (!version.startsWith(SOLC_VERSION + '+')) {
    throw new Error(`solc ${version} found, ${SOLC_VERSION} pinned (run tools/bootstrap.sh)`);
  }
  const digest = sourcesDigest(sources);
  const perSource = Object.fromEntries(Object.keys(sources).sort().map((n) => [n, sha256(sources[n])]));
  const artifacts = {};
  const contracts = compile(solc, sources);
  for (const sourceName of Object.keys(contracts).sort()) {
    for (const contractName of Object.keys(contracts[sourceName]).sort()) {
      const c = contracts[sourceName][contractName];
      if (!c.evm.bytecode.object) continue;  // abstract contracts and interfaces
      if (artifacts[contractName]) throw new Error(`duplicate contract name ${contractName}`);
      const artifact = {
        contractName,
        sourceName,
        compiler: {name: 'solc', version, settings: {optimizer: SETTINGS.optimizer, evmVersion: SETTINGS.evmVersion}},
        sourcesSha256: digest,
        sources: perSource,
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      };
      artifacts[contractName] = JSON.stringify(artifact, null, 2) + '\n';
    }
  }
  return artifacts;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const solc = require(path.join(path.resolve(opts.nodeModules), 'solc'));
  const artifacts = buildArtifacts(solc, readSources(opts.src));
  const wanted = Object.keys(artifacts).map((n) => `${n}.json`).sort();

  if (!opts.check) {
    fs.mkdirSync(opts.out, {recursive: true});
    for (const f of fs.readdirSync(opts.out)) {
      if (f.endsWith('.json') && !wanted.includes(f)) fs.unlinkSync(path.join(opts.out, f));
    }
    for (const [name, text] of Object.entries(artifacts)) fs.writeFileSync(path.join(opts.out, `${name}.json`), text);
    console.log(`wrote ${wanted.join(', ')} to ${opts.out}`);
    return 0;
  }

  const present = fs.existsSync(opts.out) ? fs.readdirSync(opts.out).filter((f) => f.endsWith('.json')).sort() : [];
  const stale = [];
  for (const f of present) if (!wanted.includes(f)) stale.push(`${f}: no longer produced by the sources`);
  for (const [name, text] of Object.entries(artifacts)) {
    const file = path.join(opts.out, `${name}.json`);
    if (!fs.existsSync(file)) stale.push(`${name}.json: missing`);
    else if (fs.readFileSync(file, 'utf8') !== text) stale.push(`${name}.json: differs from a fresh compile`);
  }
  if (stale.length > 0) {
    console.error('stale contract artifacts:\n  ' + stale.join('\n  ') +
                  '\nregenerate with: node test/contracts/compile.js');
    return 1;
  }
  console.log(`artifacts fresh: ${wanted.join(', ')}`);
  return 0;
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(`compile.js: ${e.message}`);
  process.exitCode = 2;
}
