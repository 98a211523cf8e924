#!/bin/sh
':' //; unset NODE_EXTRA_CA_CERTS; exec node "$0" "$@"
// Line 2 is for sh, and a no-op for Node: a shell runs this file as a script, which starts Node on
// it without NODE_EXTRA_CA_CERTS. Node reads that certificate file at start, before any of our
// code: about 40 ms of each run on a host that sets it, and tsquashfs opens no TLS connection.
// `node bin/tsquashfs.js` skips line 2 and runs the same program.
// The CLI is bundled into dist/bundle/ by `npm run build` (which `npm ci` runs via `prepare`), and
// loaded with V8's code cache (load-cli.js). CommonJS, like all of bin/ (bin/package.json).
'use strict';
const { loadCli } = require('./load-cli.js');

loadCli()
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
