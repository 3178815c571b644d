// Measurements in a real browser (not tests: they report figures), run by the backend's
// `cargo bench -p boardcast --bench browser`, which starts the nodes.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["e2e/**/*.measure.ts"],
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
});
