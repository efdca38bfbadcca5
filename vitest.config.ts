import { defineConfig } from 'vitest/config';

// Four projects: `unit` (pure, fast, no services); `embedded` (the embedded composition:
// PGlite and the in-process bus, in process, nothing to start); `embedded-browser` (the console
// in real headless Chromium on the embedded composition); `integration` (real PostgreSQL,
// Kafka and SMTP, started by scripts/test.sh through infra/ scripts).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{packages,services}/*/test/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', '**/*.embedded.test.ts', '**/*.embedded-browser.test.ts', '**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'embedded',
          include: ['{packages,services}/*/test/**/*.embedded.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'embedded-browser',
          include: ['{packages,services}/*/test/**/*.embedded-browser.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Each file drives its own Chromium: one at a time on two cores, after the other
          // projects (as when they ran among the integration files, one at a time).
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['{packages,services}/*/test/**/*.integration.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // One broker, one Postgres, two cores: run integration files one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
