// `inferia models`: the organization's model registry (/management/models).
import { EXIT, GLOBAL_HELP, Output, UsageError, age, expectPositionals, parse, type Command } from '../cli/cli.js';
import { listModels, type ModelView } from '../cli/resources.js';
import { Session } from '../cli/session.js';

const USAGE = `usage: inferia models [list]
       inferia models register NAME[@VERSION] --backend ENGINE --artifact URI [--config JSON]
       inferia models delete NAME@VERSION

list       the registered models (name, version, backend, artifact)
register   adds a model version (VERSION defaults to 1.0); ENGINE: mock, vllm, llama.cpp, openai
delete     removes a version (refused while a deployment uses it)

examples:
  inferia models
  inferia models register llama-3-8b@2 --backend vllm --artifact hf://meta-llama/Meta-Llama-3-8B-Instruct

${GLOBAL_HELP}
`;

function splitRef(ref: string, versionRequired: boolean): { name: string; version?: string } {
  const at = ref.lastIndexOf('@');
  if (at <= 0) {
    if (versionRequired) throw new UsageError(`give the version: ${ref}@VERSION`);
    return { name: ref };
  }
  const version = ref.slice(at + 1);
  if (!version) throw new UsageError(`empty version in '${ref}'`);
  return { name: ref.slice(0, at), version };
}

export const models: Command = {
  summary: 'list registered models (models register / delete to change them)',
  usage: USAGE,
  async run(argv) {
    const sub = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'list';
    const rest = sub === argv[0] ? argv.slice(1) : argv;
    switch (sub) {
      case 'list':
      case 'ls':
        return list(rest);
      case 'register':
        return register(rest);
      case 'delete':
      case 'rm':
        return remove(rest);
      default:
        throw new UsageError(`unknown subcommand 'models ${sub}' (list, register, delete)`);
    }
  },
};

async function list(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {});
  expectPositionals(positionals, []);
  const out = new Output(values.json === true);
  const { api } = await Session.open(values);
  const all = await listModels(api);
  if (out.json) {
    out.document({ models: all });
    return EXIT.ok;
  }
  out.table(
    ['NAME', 'VERSION', 'BACKEND', 'ARTIFACT', 'CREATED'],
    all.map((m) => [m.model_name, m.model_version, m.backend, m.artifact_uri, age(m.created_at)]),
    'No models registered. Add one with: inferia models register NAME --backend ENGINE --artifact URI',
  );
  return EXIT.ok;
}

async function register(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { backend: { type: 'string' }, artifact: { type: 'string' }, config: { type: 'string' } });
  const [ref] = expectPositionals(positionals, ['NAME[@VERSION]']);
  const { name, version } = splitRef(ref!, false);
  if (!values.backend) throw new UsageError('--backend is required (mock, vllm, llama.cpp, openai)');
  if (!values.artifact) throw new UsageError('--artifact is required (where the engine finds the weights, e.g. hf://org/model)');
  let config: unknown;
  if (values.config !== undefined) {
    try {
      config = JSON.parse(values.config);
    } catch (err) {
      throw new UsageError(`--config: not JSON: ${(err as Error).message}`);
    }
  }
  const out = new Output(values.json === true);
  const { api } = await Session.open(values);
  const model = await api.filtration<ModelView>('POST', '/management/models', {
    model_name: name,
    ...(version ? { model_version: version } : {}),
    backend: values.backend,
    artifact_uri: values.artifact,
    ...(config === undefined ? {} : { config_json: config }),
  });
  if (out.json) out.document(model);
  else out.info(`Registered ${model.model_name}@${model.model_version} (${model.backend}, ${model.artifact_uri}).`);
  return EXIT.ok;
}

async function remove(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const [ref] = expectPositionals(positionals, ['NAME@VERSION']);
  const { name, version } = splitRef(ref!, true);
  const out = new Output(values.json === true);
  const { api } = await Session.open(values);
  const answer = await api.filtration<Record<string, unknown>>('DELETE', '/management/models', { model_name: name, model_version: version });
  if (out.json) out.document(answer);
  else out.info(`Deleted ${name}@${version}.`);
  return EXIT.ok;
}
