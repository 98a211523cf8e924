import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Oracle tests shell out to mksquashfs, unsquashfs, sqfsdiff and mount: give them time, and run
// test files in child processes (forks) so a mount or a child process cannot block a thread pool.
// One test file per core: vitest's default leaves a core free, which on the 2-core CI machine
// ran the files one at a time (the whole suite 599 s; two at a time, 353 s).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: availableParallelism(),
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
