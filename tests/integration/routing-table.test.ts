// The routing table's queries on the real Postgres: the pg source (what the inference gateway runs)
// and the Prisma one find the same replicas — READY nodes with a URL of RUNNING deployments — with
// their model's restrictions, and the same enabled external providers; the table built on the pg
// source decrypts a provider's credentials and leaves out one whose base URL is internal.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgRouteSource, prismaRouteSource, RoutingTable, type RouteRows } from '../../gateways/inference/routing-table.js';
import { encryptSecret } from '../../lib/crypto.js';
import { seedOrg, type DemoCredentials } from '../../prisma/seed.js';
import { testConfig, uniq } from '../helpers/env.js';
import { connect } from '../helpers/services.js';

let services: ReturnType<typeof connect>;
let pool: pg.Pool;
let org: DemoCredentials;

beforeAll(async () => {
  const config = testConfig();
  services = connect(config, 'routing-table');
  pool = new pg.Pool({ connectionString: config.databaseUrl, max: 1 });
  const slug = uniq('routes');
  org = await seedOrg(services.db, config, { slug, name: slug, adminEmail: `${slug}@test.local` });
});
afterAll(async () => {
  await pool?.end();
  await services?.close();
});

async function deployment(model: string, status: string, configJson: object, nodes: { state: string; url: string | null }[]) {
  const registered = await services.db.registeredModel.create({
    data: { orgId: org.org_id, modelName: uniq('model'), modelVersion: '1', backend: 'mock', artifactUri: 'x', configJson },
  });
  const id = randomUUID();
  await services.db.deployment.create({
    data: {
      id,
      orgId: org.org_id,
      ownerId: org.user_id,
      modelId: registered.id,
      modelName: registered.modelName,
      modelVersion: '1',
      inferenceModel: model,
      replicas: nodes.length,
      poolId: org.pool_id,
      engine: 'mock',
      status,
      workflowId: `test:${id}`,
    },
  });
  for (const [i, n] of nodes.entries()) {
    await services.db.inventoryNode.create({
      data: { poolId: org.pool_id, provider: 'test', providerInstanceId: uniq('node'), state: n.state, exposeUrl: n.url, deploymentId: id, replicaIndex: i },
    });
  }
  return id;
}

const mine = ({ replicas }: RouteRows) =>
  replicas
    .filter((r) => r.orgId === org.org_id)
    .map(({ nodeId: _n, ...r }) => r)
    .sort((a, b) => a.url.localeCompare(b.url));

describe('routing table sources', () => {
  it('find the same routable replicas through pg and through Prisma', async () => {
    const chat = uniq('chat');
    const running = await deployment(chat, 'RUNNING', { allowed_groups: ['Research'] }, [
      { state: 'READY', url: 'http://10.0.0.1:8000/' },
      { state: 'READY', url: 'http://10.0.0.2:8000' },
      { state: 'PROVISIONING', url: 'http://10.0.0.3:8000' },
      { state: 'READY', url: null },
    ]);
    await deployment(uniq('stopped'), 'STOPPED', {}, [{ state: 'READY', url: 'http://10.0.0.9:8000' }]);

    const viaPg = mine(await pgRouteSource(pool)());
    expect(viaPg).toEqual(mine(await prismaRouteSource(services.db)()));
    expect(viaPg).toEqual([
      { url: 'http://10.0.0.1:8000/', deploymentId: running, model: chat, orgId: org.org_id, modelConfig: { allowed_groups: ['Research'] } },
      { url: 'http://10.0.0.2:8000', deploymentId: running, model: chat, orgId: org.org_id, modelConfig: { allowed_groups: ['Research'] } },
    ]);

    const table = new RoutingTable(pgRouteSource(pool), 60_000);
    await table.refresh();
    expect(table.replicas(org.org_id, chat).map((r) => r.base).sort()).toEqual(['http://10.0.0.1:8000/v1', 'http://10.0.0.2:8000/v1']);
    expect(table.replicas(org.org_id, chat)[0]!.restriction).toEqual({ allowed_groups: ['research'], allowed_domains: [] });
  });

  it('find the same providers through pg and through Prisma; the table decrypts credentials and leaves out internal URLs', async () => {
    const config = testConfig();
    const model = uniq('ext');
    const make = async (name: string, baseUrl: string, secrets: object | null, enabled = true) => {
      const id = randomUUID();
      await services.db.providerConfig.create({
        data: {
          id,
          orgId: org.org_id,
          name: uniq(name),
          provider: 'openai',
          baseUrl,
          enabled,
          settings: { models: [model], model_map: { [`${model}-mapped`]: 'upstream-name' } },
          secretsEnc: secrets ? encryptSecret(config.secrets.encryptionKey, JSON.stringify(secrets), `provider:${id}`) : null,
        },
      });
      return id;
    };
    const open = await make('open', 'http://127.0.0.1:9/v1', { api_key: 'sk-upstream' });
    await make('internal', 'http://10.1.2.3/v1', null);
    await make('off', 'http://127.0.0.1:9/v1', null, false);

    const providers = (rows: RouteRows) => rows.providers.filter((p) => p.orgId === org.org_id).sort((a, b) => a.id.localeCompare(b.id));
    const viaPg = providers(await pgRouteSource(pool)());
    expect(viaPg).toEqual(providers(await prismaRouteSource(services.db)()));
    expect(viaPg).toHaveLength(2);

    const table = new RoutingTable(pgRouteSource(pool), 60_000, { encryptionKey: config.secrets.encryptionKey, outbound: { allow: ['127.0.0.1'] } });
    await table.refresh();
    const targets = table.replicas(org.org_id, model);
    expect(targets.map((t) => [t.kind, t.nodeId, t.base])).toEqual([['provider', `provider:${open}`, 'http://127.0.0.1:9/v1']]);
    expect(targets[0]!.headers).toEqual({ authorization: 'Bearer sk-upstream' });
    expect(table.replicas(org.org_id, `${model}-mapped`)[0]!.upstreamModel).toBe('upstream-name');
  });
});
