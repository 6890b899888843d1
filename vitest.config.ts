import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // integration tests start real NGINX masters; keep the 2-core machine calm
    maxWorkers: 2,
    reporters: ['default'],
  },
});
