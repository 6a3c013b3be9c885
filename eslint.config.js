// Lint: typescript-eslint's recommended rules, floating promises as errors, and the rule that
// keeps workflow code deterministic (no Node builtins or I/O modules in workflows/).
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const IO_MODULES = [
  'fs', 'path', 'http', 'https', 'crypto', 'child_process', 'net', 'os', 'dns', 'stream', 'zlib', 'worker_threads',
  'ioredis', 'pg', 'undici', 'fastify', 'openai', '@grpc/*', '@prisma/*', '@kubernetes/*', '@solana/*', '@nosana/*',
];

export default tseslint.config(
  { ignores: ['node_modules/', 'lib/generated/', '.inferia/', 'dist/', 'dashboard/dist/', 'dashboard/.dist-*/', 'dashboard/dist.old-*/', 'scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs', '**/*.js'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // The dashboard runs in the browser: DOM globals, and the rules of hooks.
    files: ['dashboard/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser }, parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'workflow code must be deterministic: no Node builtins' },
            { group: IO_MODULES, message: 'workflow code must be deterministic: no I/O modules (use an activity)' },
            {
              group: ['../activities/*', '../adapters/*'],
              allowTypeImports: true,
              message: 'workflows import activity types only (import type)',
            },
          ],
        },
      ],
    },
  },
);
