import { defineConfig } from 'vitest/config';

// Three projects: `unit` (pure, fast, no services); `embedded` (the embedded composition:
// PGlite and the in-process bus, in process, nothing to start); `integration` (real
// PostgreSQL, Kafka, SMTP and Chromium, started by scripts/test.sh through infra/ scripts).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{packages,services}/*/test/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', '**/*.embedded.test.ts', '**/node_modules/**'],
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
