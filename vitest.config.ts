import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Integration tests mount filesystems and run real programs; two at a time
    // keeps a 2-core machine responsive.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
