// The `inferia` command. `npm run up` and `npm test` reach it through bin/bootstrap.mjs, which
// first installs npm dependencies and generates the Prisma client.
import { up } from './commands/up.js';
import { test } from './commands/test.js';
import { bench } from './commands/bench.js';
import { migrate, migrateNew } from './commands/migrate.js';

const USAGE = `usage: inferia <command>

  up                 start the whole platform on its embedded default (Ctrl-C stops it)
  test [args]        start the test services and run the whole suite (args go to vitest)
  bench              measure the inference hot path against a plain proxy (bench/README.md)
  migrate            apply pending database migrations (DATABASE_URL)
  migrate:new NAME   write a migration for the changes to prisma/schema.prisma
`;

const [command, ...args] = process.argv.slice(2);

async function main(): Promise<number> {
  switch (command) {
    case 'up':
      return up();
    case 'test':
      return test(args);
    case 'bench':
      return bench();
    case 'migrate':
      return migrate();
    case 'migrate:new':
      return migrateNew(args[0]);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`unknown command '${command}'\n\n${USAGE}`);
      return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`[inferia] ${err.message}\n`);
    process.exit(1);
  },
);
