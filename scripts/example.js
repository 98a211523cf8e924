#!/usr/bin/env node
/**
 * `npm start`: packs the bundled example tree (fixtures/example/rootfs) into .tmp/example.sqfs
 * with the settings nixpkgs' portableService uses (xz, 1 MiB blocks, all files root-owned, time 0),
 * then prints the summary and where the image is.
 */
import { mkdirSync } from 'node:fs';
import { main } from '../dist/cli/main.js';

mkdirSync('.tmp', { recursive: true });
const image = '.tmp/example.sqfs';
const code = await main([
  'mk',
  'fixtures/example/rootfs',
  image,
  '-noappend',
  '-comp',
  'xz',
  '-b',
  '1M',
  '-Xdict-size',
  '100%',
  '-all-root',
  '-all-time',
  '0',
]);
if (code === 0)
  console.log(
    `\nImage written to ${image} (try: unsquashfs -lls ${image}, or mount -o loop,ro ${image} /mnt)`,
  );
process.exitCode = code;
