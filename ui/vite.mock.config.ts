// Builds tests/pages/mock-backend.ts into one script that page tests inject before the app loads.
import { defineConfig } from "vite";

export default defineConfig({
  build: {
    outDir: "test-results/mock",
    emptyOutDir: true,
    minify: false,
    lib: {
      entry: "tests/pages/mock-backend.ts",
      formats: ["iife"],
      name: "FathomMock",
      fileName: () => "mock-backend.js",
    },
  },
});
