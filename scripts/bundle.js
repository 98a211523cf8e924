#!/usr/bin/env node
/**
 * Part of `npm run build`, after tsc: bundles the command line and the compression worker, each
 * into one file under dist/bundle/. A fresh Node spends about 0.5 ms per ES module it resolves
 * and links; the CLI's ~70 modules cost 25 ms of every run before any work (hyperfine, an empty
 * tree). The library (dist/index.js) stays unbundled.
 *
 * The command line is a CommonJS bundle (main.cjs) that bin/load-cli.js compiles with V8's code
 * cache, which scripts/code-cache.js then writes (main.cache): Node 20 keeps no compile cache of
 * ES modules. Its `import.meta.url` is the bundle's own URL, and its dynamic imports of packages
 * become require() (Node >= 20.19 requires ES module packages such as fs-xattr), because a vm
 * Script's import() needs an experimental flag.
 *
 * Packages stay external (loaded from node_modules when first needed). Node built-ins that a
 * module imports statically are required when the bundle loads; those that a run may not need
 * (node:crypto, node:worker_threads) are required lazily in the sources, and
 * test/cli/startup.test.ts checks that the bundle still leaves them unloaded.
 * The worker (an ES module) sits next to the CLI's bundle, where pool.ts looks for it
 * (./compress-worker.js).
 *
 * Whitespace, comments and redundant syntax are left out, names are kept (a stack trace still
 * names its functions, with columns on a few long lines): 475 to 320 KB, which V8 reads and
 * parses (what the code cache does not hold) at every start; mk of an empty tree 34.3 to 32.6 ms,
 * uncompressed large-200M 141.9 to 137.5 ms (hyperfine medians, 40 alternating runs).
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const outdir = join(root, 'dist/bundle');
rmSync(outdir, { recursive: true, force: true });
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
  minifyWhitespace: true,
  minifySyntax: true,
};
await build({
  ...common,
  entryPoints: ['dist/cli/main.js'],
  outfile: join(outdir, 'main.cjs'),
  format: 'cjs',
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
await build({
  ...common,
  entryPoints: ['dist/squashfs/compress/compress-worker.js'],
  outfile: join(outdir, 'compress-worker.js'),
  format: 'esm',
});

// In a Node of its own, started as the command starts it (no flags: V8 rejects a cache made under
// other flags).
const env = { ...process.env };
delete env.NODE_OPTIONS;
const cache = spawnSync(process.execPath, [join(root, 'scripts/code-cache.js')], {
  env,
  stdio: 'inherit',
});
if (cache.status !== 0) process.exit(cache.status ?? 1);
