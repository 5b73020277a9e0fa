import { defineConfig } from "vitest/config";

// Two projects: fast unit tests, and real-engine tests (*.int.test.ts) that
// need the Docker Engine started by hack/engine.sh.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/**/*.int.test.ts"],
        },
      },
      {
        test: {
          name: "int",
          include: ["test/**/*.int.test.ts"],
          testTimeout: 1_200_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
