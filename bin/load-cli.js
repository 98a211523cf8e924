/**
 * Loads the bundled command line (dist/bundle/main.cjs) with V8's code cache
 * (dist/bundle/main.cache), which `npm run build` writes after a warm-up run
 * (scripts/code-cache.js). Node 20 keeps no compile cache of its own, and parsing and compiling
 * the 460 KB bundle took 12 ms of every run here. With the cache, and CommonJS instead of an ES
 * module entry point: `--version` 43 -> 31 ms, `mk` of an empty tree 53 -> 39 ms (hyperfine, 30
 * runs). V8 checks the cache against the source, its own version and its flags, and compiles from
 * source when it does not match (under another Node, or with V8 flags): slower, never wrong.
 */
'use strict';
// CommonJS, as all of bin/ (bin/package.json): Node starts a CommonJS entry point 4 to 8 ms
// sooner than an ES module, whose loader it would otherwise set up first.
const { readFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const BUNDLE = join(__dirname, '../dist/bundle/main.cjs');
const CODE_CACHE = join(__dirname, '../dist/bundle/main.cache');

/**
 * The bundle's exports (`main`), the Script it ran from (for createCachedData), and what became of
 * the code cache: 'accepted', 'rejected' (V8 compiled from source) or 'missing'. `cachePath`: for
 * tests.
 */
function loadCli(cachePath = CODE_CACHE) {
  const source = readFileSync(BUNDLE, 'utf8');
  let cachedData;
  try {
    cachedData = readFileSync(cachePath);
  } catch {
    cachedData = undefined;
  }
  // CommonJS's own wrapper, on the bundle's first line so that stack traces keep its line numbers.
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new Script(wrapped, { filename: BUNDLE, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
  const cache =
    cachedData === undefined ? 'missing' : script.cachedDataRejected ? 'rejected' : 'accepted';
  return { main: module.exports.main, script, cache };
}

module.exports = { BUNDLE, CODE_CACHE, loadCli };
