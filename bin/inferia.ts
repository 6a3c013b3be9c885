// The `inferia` command. `npm run up` and `npm test` reach it through bin/bootstrap.mjs, which
// first installs npm dependencies and generates the Prisma client. The operator verbs talk to the
// gateways' public HTTP APIs only. Each command is imported when it runs, so a verb does not
// load the platform's own code (Prisma, Temporal) just to start.
import { CliError, EXIT, UsageError, describeFailure, type Command } from './cli/cli.js';

const OPERATOR: Record<string, () => Promise<Command>> = {
  login: async () => (await import('./commands/auth.js')).login,
  logout: async () => (await import('./commands/auth.js')).logout,
  whoami: async () => (await import('./commands/auth.js')).whoami,
  models: async () => (await import('./commands/models.js')).models,
  pools: async () => (await import('./commands/pools.js')).pools,
  deploy: async () => (await import('./commands/deployments.js')).deploy,
  status: async () => (await import('./commands/deployments.js')).status,
  logs: async () => (await import('./commands/logs.js')).logs,
  scale: async () => (await import('./commands/deployments.js')).scale,
  terminate: async () => (await import('./commands/deployments.js')).terminate,
  start: async () => (await import('./commands/deployments.js')).start,
  keys: async () => (await import('./commands/keys.js')).keys,
};

const USAGE = `usage: inferia <command> [options]

platform
  up                 start the whole platform on its embedded default (Ctrl-C stops it)
  test [args]        start the test services and run the whole suite (args go to vitest)
  bench              measure the inference hot path against a plain proxy (bench/README.md)
  migrate            apply pending database migrations (DATABASE_URL)
  migrate:new NAME   write a migration for the changes to prisma/schema.prisma

operator (over the gateways' HTTP APIs; --json for scripts, --help on each)
  login              sign in and store the session (password prompted, or --password-stdin)
  logout             end the session on the server and forget it here
  whoami             show the signed-in user, role and organization
  models             list registered models (models register / delete)
  pools              list compute pools with an inventory summary (pools show POOL)
  deploy             deploy a model on a pool, with live progress until RUNNING or FAILED
  status [ID]        list deployments, or show one with its replicas and events
  logs ID [-f]       a deployment's engine output; -f follows it live
  scale ID N         change the number of replicas of a deployment
  terminate ID       stop a deployment (start brings it back)
  start ID           start a STOPPED or FAILED deployment again
  keys               list, create (secret shown once) and revoke API keys

exit codes: 0 ok, 1 usage or server error, 2 not logged in or session ended,
            3 the deployment waited on FAILED, 4 timed out waiting, 130 interrupted
`;

/** Help asked for anywhere before a `--`. */
const wantsHelp = (argv: string[]) => {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

async function main(command: string | undefined, args: string[]): Promise<number> {
  switch (command) {
    case 'up':
      return (await import('./commands/up.js')).up();
    case 'test':
      return (await import('./commands/test.js')).test(args);
    case 'bench':
      return (await import('./commands/bench.js')).bench();
    case 'migrate':
      return (await import('./commands/migrate.js')).migrate();
    case 'migrate:new':
      return (await import('./commands/migrate.js')).migrateNew(args[0]);
    case undefined:
    case 'help':
    case '--help':
    case '-h': {
      const topic = command === 'help' ? args[0] : undefined;
      const verb = topic ? OPERATOR[topic] : undefined;
      process.stdout.write(verb ? (await verb()).usage : USAGE);
      return command === undefined ? EXIT.error : EXIT.ok;
    }
  }
  const load = OPERATOR[command];
  if (!load) throw new UsageError(`unknown command '${command}'`);
  const verb = await load();
  if (wantsHelp(args)) {
    process.stdout.write(verb.usage);
    return EXIT.ok;
  }
  try {
    return await verb.run(args);
  } catch (err) {
    if (err instanceof UsageError) throw new CliError(err.message, err.exitCode, `see 'inferia ${command} --help'`);
    throw err;
  }
}

const [command, ...args] = process.argv.slice(2);
main(command, args).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const failure = describeFailure(err);
    if (err instanceof UsageError && !(command && command in OPERATOR)) process.stderr.write(`inferia: ${failure.message}\n\n${USAGE}`);
    else process.stderr.write(`inferia: ${failure.message}\n${failure.hint ? `hint: ${failure.hint}\n` : ''}`);
    process.exit(failure.exitCode);
  },
);
