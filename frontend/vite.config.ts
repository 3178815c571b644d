// Builds the single-page app into dist/ (hashed assets under assets/, which the nodes serve
// as immutable) and configures the unit tests that sit beside their files.
import { defineConfig } from "vitest/config";

export default defineConfig({
  build: {
    target: "es2020",
  },
  test: {
    include: ["src/**/*.test.ts"],
    exclude: ["e2e/**", "node_modules/**", "dist/**"],
  },
});
