// `inferia keys`: API keys for the OpenAI-compatible endpoint (/management/api-keys).
import type { InferiaApi } from '../api-client.js';
import { EXIT, GLOBAL_HELP, Output, UsageError, age, expectPositionals, intOption, parse, shortId, statusText, type Command } from '../cli/cli.js';
import { pick } from '../cli/resources.js';
import { Session } from '../cli/session.js';

interface KeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  allowed_models: string[];
  fallback_models: string[];
  rpm_limit: number | null;
  tpm_limit: number | null;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_at: string;
}

const USAGE = `usage: inferia keys [list]
       inferia keys create --name NAME [--scope SCOPE]... [--model MODEL]... [--rpm N] [--tpm N] [--expires WHEN]
       inferia keys revoke KEY

list     every API key of your organization (never the secret)
create   a new key; its secret is printed once, on stdout (everything else on stderr)
revoke   ends a key at once on every inference gateway; KEY is its id, a unique id prefix,
         its name, or its sk-inf-… prefix

create options:
  --name NAME          what the key is for
  --scope SCOPE        repeatable or comma-separated (default: inference)
  --model MODEL        restrict the key to these models (repeatable or comma-separated)
  --fallback MODEL     models to try, in order, when the requested one cannot serve
  --rpm N, --tpm N     requests / tokens per minute
  --expires WHEN       an ISO time, or a span from now: 30d, 12h, 90m

examples:
  KEY=$(inferia keys create --name ci --model mock --rpm 60 --expires 30d)
  inferia keys revoke ci

${GLOBAL_HELP}
`;

export const keys: Command = {
  summary: 'list, create (secret shown once) and revoke API keys',
  usage: USAGE,
  async run(argv) {
    const sub = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'list';
    const rest = sub === argv[0] ? argv.slice(1) : argv;
    switch (sub) {
      case 'list':
      case 'ls':
        return list(rest);
      case 'create':
        return create(rest);
      case 'revoke':
        return revoke(rest);
      default:
        throw new UsageError(`unknown subcommand 'keys ${sub}' (list, create, revoke)`);
    }
  },
};

async function allKeys(api: InferiaApi): Promise<KeyView[]> {
  const keys: KeyView[] = [];
  for (let offset = 0; ; offset += 200) {
    const page = await api.filtration<{ data: KeyView[]; total: number }>('GET', `/management/api-keys?limit=200&offset=${offset}`);
    keys.push(...page.data);
    if (page.data.length === 0 || keys.length >= page.total) return keys;
  }
}

const keyStatus = (k: KeyView) => (k.revoked_at ? 'revoked' : k.expires_at && Date.parse(k.expires_at) <= Date.now() ? 'expired' : 'active');

async function list(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {});
  expectPositionals(positionals, []);
  const out = new Output(values.json === true);
  const { api } = await Session.open(values);
  const all = await allKeys(api);
  if (out.json) {
    out.document({ keys: all });
    return EXIT.ok;
  }
  out.table(
    ['ID', 'NAME', 'PREFIX', 'SCOPES', 'MODELS', 'RPM', 'TPM', 'EXPIRES', 'LAST USED', 'STATUS'],
    all.map((k) => [
      shortId(k.id),
      k.name,
      k.prefix,
      k.scopes.join(','),
      k.allowed_models.length ? k.allowed_models.join(',') : 'all',
      k.rpm_limit === null ? '-' : String(k.rpm_limit),
      k.tpm_limit === null ? '-' : String(k.tpm_limit),
      k.expires_at ? age(k.expires_at) : 'never',
      age(k.last_used_at),
      statusText(keyStatus(k)),
    ]),
    'No API keys. Create one with: inferia keys create --name NAME',
  );
  return EXIT.ok;
}

/** `30d`, `12h`, `90m`, `45s` from now, or an ISO time. */
export function parseExpiry(raw: string, now = Date.now()): string {
  const span = /^(\d+)\s*([smhdw])$/i.exec(raw.trim());
  if (span) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[span[2]!.toLowerCase() as 's' | 'm' | 'h' | 'd' | 'w'];
    return new Date(now + Number(span[1]) * unit * 1000).toISOString();
  }
  const at = Date.parse(raw);
  if (Number.isNaN(at) || !/^\d{4}-\d{2}-\d{2}/.test(raw)) throw new UsageError(`--expires: give a span (30d, 12h, 90m) or an ISO time, got '${raw}'`);
  return new Date(at).toISOString();
}

const listOf = (values: string[] | undefined) => (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);

async function create(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    name: { type: 'string' },
    scope: { type: 'string', multiple: true },
    model: { type: 'string', multiple: true },
    fallback: { type: 'string', multiple: true },
    rpm: { type: 'string' },
    tpm: { type: 'string' },
    expires: { type: 'string' },
  });
  expectPositionals(positionals, []);
  if (!values.name) throw new UsageError('--name is required');
  const scopes = listOf(values.scope);
  const body = {
    name: values.name,
    ...(scopes.length ? { scopes } : {}),
    allowed_models: listOf(values.model),
    fallback_models: listOf(values.fallback),
    rpm_limit: intOption('rpm', values.rpm, { min: 1, max: 1_000_000 }) ?? null,
    tpm_limit: intOption('tpm', values.tpm, { min: 1, max: 1_000_000_000 }) ?? null,
    expires_at: values.expires === undefined ? null : parseExpiry(values.expires),
  };
  const out = new Output(values.json === true);
  const { api } = await Session.open(values);
  const created = await api.filtration<KeyView & { key: string }>('POST', '/management/api-keys', body);
  if (out.json) {
    out.document(created);
    return EXIT.ok;
  }
  out.info(
    `Created API key '${created.name}' (id ${created.id}, scopes ${created.scopes.join(',')}` +
      `${created.allowed_models.length ? `, models ${created.allowed_models.join(',')}` : ''}` +
      `${created.expires_at ? `, expires ${created.expires_at}` : ''}). Copy the secret now: it is not shown again.`,
  );
  out.print(created.key);
  return EXIT.ok;
}

async function revoke(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const [ref] = expectPositionals(positionals, ['KEY']);
  const out = new Output(values.json === true);
  const { api } = await Session.open(values);
  let id = ref!.toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
    const all = await allKeys(api);
    const byPrefix = all.filter((k) => ref === k.prefix || ref!.startsWith(`${k.prefix}.`));
    id =
      byPrefix.length === 1
        ? byPrefix[0]!.id
        : pick(all, ref!, 'API key', {
            id: (k) => k.id,
            name: (k) => k.name,
            prefer: (k) => keyStatus(k) === 'active',
            describe: (k) => `${shortId(k.id)} (${k.name}, ${keyStatus(k)})`,
          }).id;
  }
  const revoked = await api.filtration<KeyView>('DELETE', `/management/api-keys/${id}`);
  if (out.json) out.document(revoked);
  else out.info(`Revoked API key '${revoked.name}' (${revoked.id}, ${revoked.prefix}).`);
  return EXIT.ok;
}
