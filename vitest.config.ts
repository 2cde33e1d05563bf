import { defineConfig } from "vitest/config";

// Unit tests run per package without a broker; integration tests (test/) share one
// real broker found or started by test/setup/kafka.ts.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "examples/*/test/**/*.unit.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts", "examples/*/test/**/*.it.test.ts"],
          globalSetup: ["test/setup/kafka.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // One broker on two cores: integration files run one at a time so their
          // rebalances and kill tests do not starve each other.
          fileParallelism: false,
        },
      },
    ],
  },
});
