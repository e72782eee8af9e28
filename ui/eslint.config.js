import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";
import { readdirSync } from "node:fs";

// The UI is organised by feature (src/features/<feature>: its Page, its components/, its api.ts);
// a feature never imports another one.
// What several need lives in src/lib, src/components or src/stores, and src/app composes features.
const features = readdirSync(new URL("./src/features", import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const apart = (names) => names.flatMap((n) => [`../${n}`, `../${n}/*`, `**/features/${n}`, `**/features/${n}/*`]);
// Within a feature, only its api.ts calls Rust (the generated commands and the streams): the one
// place that lists what the feature asks of the core.
const featureRules = (feature, { api }) => ({
  files: api ? [`src/features/${feature}/api.ts`] : [`src/features/${feature}/**`],
  rules: {
    "no-restricted-imports": ["error", {
      patterns: [
        { group: apart(features.filter((f) => f !== feature)), message: "Features do not import each other: share through src/lib, src/components or src/stores, or compose in src/app." },
        { group: ["**/app/*"], message: "Features do not import the app that composes them." },
        ...(api ? [] : [{ group: ["**/lib/ipc"], importNames: ["commands", "streams"], message: "A feature calls Rust through its own api.ts." }]),
      ],
    }],
  },
});
const layering = [
  ...features.map((feature) => featureRules(feature, { api: false })),
  ...features.map((feature) => featureRules(feature, { api: true })),
  {
    files: ["src/lib/**", "src/components/**", "src/stores/**"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{ group: ["**/features/*", "**/app/*"], message: "Shared code does not import features or the app." }],
      }],
    },
  },
];

export default tseslint.config(
  { ignores: ["dist", "test-results", "playwright-report", "src/lib/bindings.ts"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.browser, ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "react-hooks": reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
    },
  },
  {
    // Tauri rejects a failed command with the plain error object; the tests do the same.
    files: ["tests/**"],
    rules: { "@typescript-eslint/only-throw-error": "off" },
  },
  ...layering,
  { files: ["eslint.config.js"], ...tseslint.configs.disableTypeChecked },
);
