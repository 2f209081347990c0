import { defineConfig } from 'vitest/config';

const env = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: ['test/iam-coverage.test.ts'], env, sequence: { groupOrder: 0 } } },
      // Runs after every other file: it reads what they recorded.
      { extends: true, test: { name: 'iam-coverage', include: ['test/iam-coverage.test.ts'], env, sequence: { groupOrder: 1 } } },
    ],
  },
});
