// The browser scenarios: real nodes (started by the backend's test harness, which passes
// their addresses in BOARDCAST_E2E_CLUSTER) driven through headless Chromium.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
