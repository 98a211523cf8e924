#!/usr/bin/env node
/**
 * Part of `npm run build`, after tsc: bundles the command line and the compression worker, each
 * into one file under dist/bundle/. A fresh Node spends about 0.5 ms per ES module it resolves
 * and links; the CLI's ~70 modules cost 25 ms of every run before any work (hyperfine, an empty
 * tree). The library (dist/index.js) stays unbundled.
 *
 * Packages stay external (loaded from node_modules when first needed). Node built-ins that a
 * module imports statically become imports of the bundle; those that a run may not need
 * (node:crypto, node:worker_threads) are required lazily in the sources, and
 * test/cli/startup.test.ts checks that the bundle still leaves them unloaded.
 * The worker sits next to the CLI's bundle, where pool.ts looks for it (./compress-worker.js).
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const outdir = join(root, 'dist/bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/main.js', 'dist/squashfs/compress/compress-worker.js'],
  entryNames: '[name]',
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
