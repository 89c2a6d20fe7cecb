// ESLint for every package, run per package by turbo (`pnpm lint`). The typed rules see each file through its
// nearest tsconfig.json (projectService), so every file linted here is in a tsconfig: JavaScript through
// allowJs + checkJs.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['**/dist/', '**/build/', '**/node_modules/', '**/.vitest/', '**/.turbo/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // `({ bytes, ...rest }) => rest` is how a test drops a field before comparing the rest.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // TypeScript checks every linted file (checkJs too) and knows Node's globals; ESLint's no-undef does not,
      // and typescript-eslint advises turning it off.
      'no-undef': 'off',
    },
  },
  {
    // CommonJS on purpose (node-gyp-build require()s its install check; a .cts type test of require(esm)):
    // require is how such a file imports.
    files: ['**/*.cjs', '**/*.cts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
