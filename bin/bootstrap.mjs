#!/usr/bin/env node
// Entry point of `npm run up` and `npm test` on a fresh machine. Plain JavaScript on purpose:
// it runs before node_modules exist. It installs npm dependencies when they are missing or stale,
// generates the Prisma client, then hands over to the TypeScript CLI (bin/inferia.ts).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => process.stdout.write(`[inferia] ${msg}\n`);
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

function run(cmd, args, extraEnv = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...extraEnv } });
  if (r.status !== 0) {
    say(`\`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  say(`Node.js ${process.versions.node} is too old: Inferia needs Node 20 or newer.`);
  process.exit(1);
}

// 1. npm dependencies: install when missing or when the lockfile is newer than the install.
const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || mtime(join(root, 'package-lock.json')) > mtime(installed)) {
  say('installing npm dependencies (npm ci) …');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
}

// 2. Prisma client: generated, not committed. The CLI's native schema engine cannot be downloaded
// here and `generate` does not need it, so any existing file satisfies its check.
const generated = join(root, 'lib', 'generated', 'prisma', 'client.ts');
if (!existsSync(generated) || mtime(join(root, 'prisma', 'schema.prisma')) > mtime(generated)) {
  say('generating the Prisma client …');
  run(join(root, 'node_modules', '.bin', 'prisma'), ['generate'], {
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
  });
}

// 3. Hand over. A Ctrl-C at a terminal reaches the child directly (same process group), so
// SIGINT is forwarded only when it did not come from one; either way we wait for the child.
const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bin', 'inferia.ts'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
process.on('SIGINT', () => {
  if (!process.stdin.isTTY) child.kill('SIGINT');
});
for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
