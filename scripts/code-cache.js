#!/usr/bin/env node
/**
 * Part of `npm run build` (run by scripts/bundle.js in a Node of its own): writes V8's code cache
 * of the command line's bundle, dist/bundle/main.cache, which bin/load-cli.js hands to V8.
 *
 * The cache is taken after a warm-up: `mk` of a small tree, compressed and uncompressed. V8 then
 * caches every function those runs compiled, not only the bundle's top level, so that a real run
 * neither parses nor compiles the code that every image goes through.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CODE_CACHE, loadCli } from '../bin/load-cli.js';

rmSync(CODE_CACHE, { force: true });
const { main, script } = loadCli();

const dir = mkdtempSync(join(tmpdir(), 'tsquashfs-code-cache-'));
try {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'small.txt'), 'warm-up\n');
  writeFileSync(join(src, 'sub', 'same.txt'), 'warm-up\n');
  // Larger than one block, so that the worker pool and the duplicate check both run.
  writeFileSync(join(src, 'large.txt'), 'warm-up line\n'.repeat(40_000));
  writeFileSync(join(src, 'zeros'), new Uint8Array(300_000));
  symlinkSync('small.txt', join(src, 'link'));
  const common = ['-noappend', '-quiet', '-all-root'];
  for (const settings of [[], ['-noI', '-noD', '-noF', '-noX']]) {
    const code = await main(['mk', src, join(dir, 'out.img'), ...common, ...settings]);
    if (code !== 0) throw new Error(`code-cache warm-up: mk ${settings.join(' ')} exited ${code}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
writeFileSync(CODE_CACHE, script.createCachedData());
