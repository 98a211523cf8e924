#!/usr/bin/env node
/**
 * `npm start`: builds the bundled demo as a systemd portable-service image, the way nixpkgs'
 * pkgs.portableService would: fixtures/demo/demo.json names a unit in a small fixture store
 * (fixtures/demo/store), whose closure (found by reference scanning) goes under /nix/store.
 * Then lists what is in the image.
 */
import { mkdirSync } from 'node:fs';
import { loadCli } from '../bin/load-cli.js';

const { main } = loadCli();

mkdirSync('.tmp', { recursive: true });
let code = await main(['portable', '--config', 'fixtures/demo/demo.json']);
if (code === 0) {
  console.log('\nContents of .tmp/demo_1.0.raw:');
  code = await main(['ls', '.tmp/demo_1.0.raw', '-l']);
  console.log(
    '\nTry: systemd-dissect .tmp/demo_1.0.raw, or portablectl attach --now .tmp/demo_1.0.raw',
  );
}
process.exitCode = code;
