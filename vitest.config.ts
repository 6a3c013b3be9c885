import { defineConfig } from 'vitest/config';

const exclude = ['node_modules/**', 'dashboard/dist/**', '.inferia/**', 'lib/generated/**'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    setupFiles: ['tests/helpers/setup.ts'],
    // Two projects, both in a plain run (`npm test`): everything, and the chaos suite (faults
    // injected under the running platform, see "Chaos suite" in the README), which
    // `npm run test:chaos` runs alone (`--project chaos`).
    projects: [
      { extends: true, test: { name: 'suite', include: ['**/*.test.ts'], exclude: [...exclude, 'tests/chaos/**'] } },
      { extends: true, test: { name: 'chaos', include: ['tests/chaos/**/*.test.ts'], exclude } },
    ],
  },
});
