// Loaded with `node --import` into a CLI run: at exit, writes to stderr, as one JSON line, the
// packages the process loaded through require (from require.cache) and the Node built-in modules it
// loaded, so that a test can tell which dependencies a command pulled in.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
process.on('exit', () => {
  const packages = Object.keys(require.cache)
    .map((file) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1])
    .filter((name) => name !== undefined);
  const builtins = process.moduleLoadList
    .filter((entry) => entry.startsWith('NativeModule '))
    .map((entry) => entry.slice('NativeModule '.length));
  process.stderr.write(
    `loaded ${JSON.stringify({ packages: [...new Set(packages)], builtins })}\n`,
  );
});
