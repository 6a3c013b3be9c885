// `inferia deploy`, `status`, `scale`, `terminate`, `start`: deployments through the management
// API (/management/deployments, which the filtration gateway forwards to orchestration).
import { CliError, EXIT, GLOBAL_HELP, Output, UsageError, age, expectPositionals, intOption, parse, shortId, statusText, type Command } from '../cli/cli.js';
import {
  getDeployment,
  listDeployments,
  listModels,
  listPools,
  replicaCounts,
  resolveDeployment,
  resolvePool,
  type DeploymentDetail,
  type PoolView,
} from '../cli/resources.js';
import { Session } from '../cli/session.js';
import { waitExitCode, watchDeployment } from '../cli/watch.js';

const TIMEOUT_OPTION = { timeout: { type: 'string' } } as const;
const timeoutMs = (raw: string | undefined, fallbackSeconds: number) => (intOption('timeout', raw, { min: 0, max: 7 * 86_400 }) ?? fallbackSeconds) * 1000;
const DEPLOYMENT_REF = `DEPLOYMENT is a deployment id, a unique prefix of one (4+ characters), or its
inference model name (a live deployment wins over stopped ones of the same name).`;

export const deploy: Command = {
  summary: 'deploy a registered model on a pool, with live progress until RUNNING or FAILED',
  usage: `usage: inferia deploy --model NAME[@VERSION] [--pool POOL] [--replicas N] [options]

Starts a deployment and follows it until it is RUNNING (exit 0) or FAILED (exit 3), printing
status transitions, replica counts and the deployment's events on stderr. The deployment id is
printed on stdout (with --json: the final deployment). Ctrl-C stops watching, not the deployment.

options:
  --model NAME[@VERSION]  a registered model (inferia models); without @VERSION its newest version
  --pool POOL             pool id, id prefix or name (optional when the org has one active pool)
  --replicas N            replicas to run (default 1)
  --engine ENGINE         mock, vllm, llama.cpp or openai (default: the model's backend)
  --name NAME             the model name clients send on /v1 (default: the model name)
  --gpus N                GPUs per replica (default 0)
  --config JSON           engine settings merged over the model's config_json
  --no-wait               return once the deployment is accepted
  --timeout SECONDS       stop waiting after this long (exit 4; default 900, 0: no limit)

examples:
  inferia deploy --model mock --pool local --replicas 2 --engine mock
  ID=$(inferia deploy --model llama-3-8b@2 --pool gpus --name llama --no-wait)

${GLOBAL_HELP}
`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      model: { type: 'string' },
      pool: { type: 'string' },
      replicas: { type: 'string' },
      engine: { type: 'string' },
      name: { type: 'string' },
      gpus: { type: 'string' },
      config: { type: 'string' },
      'no-wait': { type: 'boolean' },
      ...TIMEOUT_OPTION,
    });
    expectPositionals(positionals, []);
    if (!values.model) throw new UsageError('--model is required');
    const replicas = intOption('replicas', values.replicas, { min: 1, max: 64 }) ?? 1;
    const gpus = intOption('gpus', values.gpus, { min: 0, max: 16 });
    const wait = timeoutMs(values.timeout, 900);
    let configuration: Record<string, unknown> | undefined;
    if (values.config !== undefined) {
      try {
        configuration = JSON.parse(values.config) as Record<string, unknown>;
      } catch (err) {
        throw new UsageError(`--config: not JSON: ${(err as Error).message}`);
      }
      if (!configuration || typeof configuration !== 'object' || Array.isArray(configuration)) throw new UsageError('--config: must be a JSON object');
    }
    const at = values.model.lastIndexOf('@');
    const modelName = at > 0 ? values.model.slice(0, at) : values.model;
    let modelVersion = at > 0 ? values.model.slice(at + 1) : undefined;
    if (modelVersion === '') throw new UsageError('--model: empty version after @');

    const out = new Output(values.json === true);
    const { api } = await Session.open(values);
    if (!modelVersion) {
      const versions = (await listModels(api)).filter((m) => m.model_name === modelName).sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
      if (versions.length === 0) throw new CliError(`model '${modelName}' is not registered (see: inferia models)`);
      modelVersion = versions[0]!.model_version;
    }
    let pool: PoolView;
    if (values.pool) pool = await resolvePool(api, values.pool);
    else {
      const active = (await listPools(api)).filter((p) => p.status === 'ACTIVE');
      if (active.length !== 1) throw new UsageError(`--pool is required (the org has ${active.length} active pools; see: inferia pools)`);
      pool = active[0]!;
    }

    const accepted = await api.filtration<{ deployment_id: string; status: string; workflow_id: string }>('POST', '/management/deployments', {
      model_name: modelName,
      model_version: modelVersion,
      pool_id: pool.pool_id,
      replicas,
      ...(gpus === undefined ? {} : { gpu_per_replica: gpus }),
      ...(values.engine ? { engine: values.engine } : {}),
      ...(values.name ? { inference_model: values.name } : {}),
      ...(configuration ? { configuration } : {}),
    });
    const id = accepted.deployment_id;
    out.info(
      `Deploying ${modelName}@${modelVersion} on pool ${pool.pool_name} (${pool.provider}), ${replicas} replica${replicas === 1 ? '' : 's'}` +
        `${values.name ? ` as '${values.name}'` : ''}: deployment ${id} (workflow ${accepted.workflow_id})`,
    );
    if (values['no-wait']) {
      if (out.json) out.document(accepted);
      else out.print(id);
      return EXIT.ok;
    }
    const started = Date.now();
    const result = await watchDeployment(api, id, { out, goal: 'RUNNING', timeoutMs: wait, done: (d) => d.status === 'RUNNING' });
    const d = result.detail;
    if (result.outcome === 'done') {
      out.info(`Deployment ${shortId(id)} is ${statusText('RUNNING', process.stderr)}: '${d.inference_model}' with ${replicaCounts(d).text} replicas, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      out.info(`  Temporal UI: ${d.temporal_ui_url}`);
    }
    if (out.json) out.document(d);
    else out.print(id);
    return waitExitCode(result, { out, goal: 'RUNNING', timeoutMs: wait });
  },
};

export const status: Command = {
  summary: 'list deployments, or show one with its replicas and events',
  usage: `usage: inferia status [DEPLOYMENT]

Without DEPLOYMENT: every deployment of your organization. With it: its status, replicas
(nodes), recent events and Temporal workflow.
${DEPLOYMENT_REF}

${GLOBAL_HELP}
`,
  async run(argv) {
    const { values, positionals } = parse(argv, {});
    const [ref] = expectPositionals(positionals, ['DEPLOYMENT'], 1);
    const out = new Output(values.json === true);
    const { api } = await Session.open(values);
    if (ref === undefined) {
      const [deployments, pools] = await Promise.all([listDeployments(api), listPools(api).catch(() => [] as PoolView[])]);
      if (out.json) {
        out.document({ deployments });
        return EXIT.ok;
      }
      const poolName = new Map(pools.map((p) => [p.pool_id, p.pool_name]));
      out.table(
        ['ID', 'NAME', 'MODEL', 'POOL', 'REPLICAS', 'ENGINE', 'STATUS', 'AGE'],
        deployments.map((d) => [
          shortId(d.deployment_id),
          d.inference_model,
          `${d.model_name}@${d.model_version}`,
          poolName.get(d.pool_id) ?? shortId(d.pool_id),
          String(d.replicas),
          d.engine,
          statusText(d.status),
          age(d.created_at),
        ]),
        'No deployments. Start one with: inferia deploy --model NAME --pool POOL',
      );
      return EXIT.ok;
    }
    const d = await getDeployment(api, await resolveDeployment(api, ref));
    if (out.json) {
      out.document(d);
      return EXIT.ok;
    }
    printDetail(out, d, (await listPools(api).catch(() => [] as PoolView[])).find((p) => p.pool_id === d.pool_id));
    return EXIT.ok;
  },
};

function printDetail(out: Output, d: DeploymentDetail, pool: PoolView | undefined) {
  const rows: [string, string][] = [
    ['Deployment', d.deployment_id],
    ['Name', `${d.inference_model}  (model ${d.model_name}@${d.model_version}, engine ${d.engine}, ${d.gpu_per_replica} GPU/replica)`],
    ['Status', `${statusText(d.status)}${d.status_reason ? `: ${d.status_reason}` : ''}`],
    ['Replicas', replicaCounts(d).text],
    ['Pool', pool ? `${pool.pool_name} (${pool.provider}, ${pool.pool_id})` : d.pool_id],
    ['Workflow', d.workflow_id],
    ['Temporal UI', d.temporal_ui_url],
    ['Created', `${d.created_at} (${age(d.created_at)})`],
  ];
  for (const [k, v] of rows) out.print(`${k.padEnd(12)} ${v}`);
  const nodes = d.nodes.filter((n) => n.state !== 'TERMINATED');
  if (nodes.length > 0) {
    out.print();
    out.table(
      ['REPLICA', 'STATE', 'INSTANCE', 'URL', 'HEARTBEAT'],
      nodes.map((n) => [String(n.replica_index ?? '-'), statusText(n.state), n.provider_instance_id, n.expose_url ?? '-', age(n.last_heartbeat_at)]),
    );
  }
  if (d.events.length > 0) {
    out.print();
    out.print('Recent events:');
    for (const e of d.events.slice(0, 10).reverse()) out.print(`  ${e.at}  ${e.kind.padEnd(8)}  ${e.message}`);
  }
}

/** One lifecycle verb: the update, then optionally a wait with progress. */
function lifecycle(spec: {
  verb: 'scale' | 'terminate' | 'start';
  summary: string;
  usage: string;
  goal: string;
  done: (d: DeploymentDetail, replicas: number | undefined) => boolean;
}): Command {
  return {
    summary: spec.summary,
    usage: spec.usage,
    async run(argv) {
      const { values, positionals } = parse(argv, { wait: { type: 'boolean' }, ...TIMEOUT_OPTION });
      const names = spec.verb === 'scale' ? ['DEPLOYMENT', 'REPLICAS'] : ['DEPLOYMENT'];
      const [ref, rawReplicas] = expectPositionals(positionals, names);
      const replicas = spec.verb === 'scale' ? intOption('replicas', rawReplicas, { min: 1, max: 64 }) : undefined;
      const wait = timeoutMs(values.timeout, 300);
      const out = new Output(values.json === true);
      const { api } = await Session.open(values);
      const id = await resolveDeployment(api, ref!);
      const before = await getDeployment(api, id);
      const answer = await api.filtration<{ deployment_id: string; status: string; replicas?: number; desired_state?: string }>(
        'POST',
        `/management/deployments/${id}/${spec.verb}`,
        spec.verb === 'scale' ? { replicas } : undefined,
      );
      const label = `${before.inference_model} (${shortId(id)})`;
      if (spec.verb === 'scale') out.info(`Scaling ${label} from ${before.workflow_state?.targetReplicas ?? before.replicas} to ${answer.replicas ?? replicas} replicas (${answer.status}).`);
      else out.info(`${spec.verb === 'start' ? 'Starting' : 'Terminating'} ${label}: ${answer.status} now, ${answer.desired_state ?? spec.goal} wanted.`);
      if (!values.wait) {
        if (out.json) out.document(answer);
        return EXIT.ok;
      }
      const result = await watchDeployment(api, id, { out, goal: spec.goal, timeoutMs: wait, since: before, done: (d) => spec.done(d, replicas) });
      if (result.outcome === 'done') {
        const replicasNote = result.detail.status === 'STOPPED' ? '' : ` (${replicaCounts(result.detail).text})`;
        out.info(`Deployment ${shortId(id)} is ${statusText(result.detail.status, process.stderr)}${replicasNote}.`);
      }
      if (out.json) out.document(result.detail);
      return waitExitCode(result, { out, goal: spec.goal, timeoutMs: wait });
    },
  };
}

const waitHelp = (goal: string) => `  --wait              follow the deployment until ${goal}, with progress on stderr (FAILED: exit 3)
  --timeout SECONDS   stop waiting after this long (exit 4; default 300, 0: no limit)`;

export const scale = lifecycle({
  verb: 'scale',
  summary: 'change the number of replicas of a deployment',
  usage: `usage: inferia scale DEPLOYMENT REPLICAS [--wait]

Sets the deployment's replica count (1-64); its workflow starts or stops replicas.
${DEPLOYMENT_REF}

options:
${waitHelp('that many replicas are READY')}

${GLOBAL_HELP}
`,
  goal: 'the new replica count',
  done: (d, replicas) => {
    const r = replicaCounts(d);
    return d.status === 'RUNNING' && r.ready === replicas && r.live === replicas;
  },
});

export const terminate = lifecycle({
  verb: 'terminate',
  summary: 'stop a deployment (its replicas are released; start brings it back)',
  usage: `usage: inferia terminate DEPLOYMENT [--wait]

Stops the deployment: STOPPING, then STOPPED once every replica is released. The deployment
stays listed and can be started again (inferia start).
${DEPLOYMENT_REF}

options:
${waitHelp('it is STOPPED')}

${GLOBAL_HELP}
`,
  goal: 'STOPPED',
  done: (d) => d.status === 'STOPPED',
});

export const start = lifecycle({
  verb: 'start',
  summary: 'start a STOPPED or FAILED deployment again',
  usage: `usage: inferia start DEPLOYMENT [--wait]

Starts a deployment that is STOPPED or FAILED: DEPLOYING, then RUNNING.
${DEPLOYMENT_REF}

options:
${waitHelp('it is RUNNING')}

${GLOBAL_HELP}
`,
  goal: 'RUNNING',
  done: (d) => d.status === 'RUNNING',
});
