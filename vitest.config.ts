import { defineConfig } from 'vitest/config';

// Oracle tests shell out to mksquashfs, unsquashfs, sqfsdiff and mount: give them time, and run
// test files in child processes (forks) so a mount or a child process cannot block a thread pool.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
