// Prints (one JSON line) what phala_oracle.inspectCvm recomputes for a CVM of a running simulator:
//   node cvm_oracle.js http://127.0.0.1:PORT/_sim <cvm id>
// Exit 1 with the reason on stderr when the stored state cannot be read or decrypted.
'use strict';
const {inspectCvm} = require('./phala_oracle.js');

const [adminUrl, cvmId] = process.argv.slice(2);
inspectCvm(adminUrl, cvmId).then(
    (v) => process.stdout.write(JSON.stringify(v) + '\n'),
    (e) => {
      process.stderr.write(`cvm_oracle: ${e && e.message || e}\n`);
      process.exit(1);
    });
