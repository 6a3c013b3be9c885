// TEST DOUBLE — not SkyPilot. An in-memory stand-in for the SkyPilot API server that speaks the
// same REST wire format for the endpoints the skypilot adapter uses, so the real adapter can be
// tested over loopback without clouds or a Python install. It mirrors sky/server/server.py:
//   • POST /launch, /status, /down, /endpoints, /list_accelerators, /api/cancel and
//     GET /enabled_clouds queue a request and answer 200 `null` with `X-Skypilot-Request-ID`;
//   • GET /api/get?request_id= holds until the request finishes, then answers the record
//     (return_value and error as JSON text), or 500 `{detail: record}` when it failed;
//   • GET /api/status lists unfinished requests (or the given `request_ids`);
//   • POST /logs streams job log text; GET /api/health answers the health record;
//   • a body missing a required field gets FastAPI's 422, which echoes the input.
// Clusters live in memory. A launch makes the cluster INIT (or stays PENDING while
// `holdLaunches` is set, until `provision`); the test moves it on with `setClusterStatus`.
// Every request is recorded (method, path, query, headers, body) for assertions.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeClusterStatus = 'INIT' | 'UP' | 'STOPPED';
type RequestStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  body: unknown;
}

export interface FakeCluster {
  name: string;
  status: FakeClusterStatus;
  headIp: string;
  taskYaml: string;
  launchedAt: number;
  jobLog: string[];
}

interface FakeRequest {
  request_id: string;
  name: string;
  status: RequestStatus;
  cluster_name: string | null;
  created_at: number;
  return_value: unknown;
  error: { type: string; message: string } | null;
  body: Record<string, unknown>;
}

export interface FakeSkypilotApiOptions {
  /** When set, every call needs `Authorization: Bearer <token>` (else 401, as the real server's service-account auth). */
  token?: string;
}

/** SkyPilot's cluster-name rule (common_utils.check_cluster_name_is_valid). */
const VALID_CLUSTER_NAME = /^[a-zA-Z]([-_.a-zA-Z0-9]*[a-zA-Z0-9])?$/;

/** A small catalog in the list_accelerators wire shape: InstanceTypeInfo tuples as arrays. */
const CATALOG: Record<string, unknown[][]> = {
  A100: [
    ['AWS', 'p4d.24xlarge', 'A100', 8, 96, 40, 1152, 32.77, 9.83, 'us-east-1'],
    ['GCP', 'a2-highgpu-1g', 'A100', 1, 12, 40, 85, 3.67, 1.1, 'us-central1'],
  ],
  L4: [['GCP', 'g2-standard-4', 'L4', 1, 4, 24, 16, 0.7, 0.22, 'us-central1']],
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

export async function startFakeSkypilotApi(options: FakeSkypilotApiOptions = {}) {
  const recorded: RecordedRequest[] = [];
  const clusters = new Map<string, FakeCluster>();
  const requests = new Map<string, FakeRequest>();
  const failures = new Map<string, { status: number; body: unknown }>();
  const requestFailures = new Map<string, { type: string; message: string }>();
  const stalled = new Set<string>();
  let holdLaunches = false;
  let nextIp = 10;

  const terminal = (r: FakeRequest) => r.status === 'SUCCEEDED' || r.status === 'FAILED' || r.status === 'CANCELLED';
  const finish = (r: FakeRequest, value: unknown) => Object.assign(r, { status: 'SUCCEEDED', return_value: value });
  const fail = (r: FakeRequest, type: string, message: string) => Object.assign(r, { status: 'FAILED', error: { type, message } });

  /** The record as requests.Request.encode() puts it on the wire. */
  const encode = (r: FakeRequest) => ({
    request_id: r.request_id,
    name: r.name,
    entrypoint: 'encoded-entrypoint',
    request_body: 'encoded-request-body',
    status: r.status,
    created_at: r.created_at,
    user_id: 'ab12cd34',
    return_value: JSON.stringify(r.return_value ?? null),
    // The real `object` is a pickled exception; the adapter reads only type and message.
    error: JSON.stringify(r.error ? { ...r.error, object: 'cGlja2xlZA==' } : null),
    pid: null,
    schedule_type: r.name === 'launch' ? 'long' : 'short',
    cluster_name: r.cluster_name,
    status_msg: null,
  });

  const statusRecord = (c: FakeCluster) => {
    const acc = /accelerators:\s*"?([A-Za-z0-9-]+):(\d+)/.exec(c.taskYaml);
    return {
      name: c.name,
      launched_at: c.launchedAt,
      handle: 'cGlja2xlZC1oYW5kbGU=', // pickled ResourceHandle on the real server
      last_use: 'sky launch',
      status: c.status,
      autostop: -1,
      to_down: false,
      owner: null,
      metadata: {},
      cluster_hash: `hash-${c.name}`,
      storage_mounts_metadata: null,
      cluster_ever_up: c.status === 'UP',
      status_updated_at: c.launchedAt,
      user_hash: 'ab12cd34',
      user_name: 'inferia',
      workspace: 'default',
      is_managed: false,
      resources_str: acc ? `1x AWS(p4d.24xlarge, {'${acc[1]}': ${acc[2]}})` : '1x AWS(m6i.large)',
      nodes: 1,
      cloud: 'AWS',
      region: 'us-east-1',
      cpus: '8',
      memory: '32',
      accelerators: acc ? `{'${acc[1]}': ${acc[2]}}` : null,
    };
  };

  const createCluster = (name: string, taskYaml: string) => {
    clusters.set(name, { name, status: 'INIT', headIp: `203.0.113.${nextIp++}`, taskYaml, launchedAt: Math.floor(Date.now() / 1000), jobLog: [] });
  };

  const launchesOf = (name: string) => [...requests.values()].filter((r) => r.name === 'launch' && r.cluster_name === name && !terminal(r));

  /** Runs a queued request, as the server's executor would. */
  function execute(r: FakeRequest) {
    const b = r.body;
    switch (r.name) {
      case 'launch': {
        const name = String(b.cluster_name);
        if (!VALID_CLUSTER_NAME.test(name)) return fail(r, 'InvalidClusterNameError', `Cluster name '${name}' is invalid`);
        if (holdLaunches) return; // stays PENDING until provision()
        r.status = 'RUNNING';
        const existing = clusters.get(name);
        if (!existing) createCluster(name, String(b.task));
        else if (existing.status === 'STOPPED') existing.status = 'INIT';
        else if (existing.status === 'UP') finish(r, { job_id: 1, handle: 'cGlja2xlZC1oYW5kbGU=' });
        return;
      }
      case 'status': {
        const names = Array.isArray(b.cluster_names) ? (b.cluster_names as string[]) : null;
        return finish(r, [...clusters.values()].filter((c) => !names || names.includes(c.name)).map(statusRecord));
      }
      case 'down': {
        const name = String(b.cluster_name);
        if (!clusters.has(name)) return fail(r, 'ClusterDoesNotExist', `Cluster '${name}' does not exist.`);
        clusters.delete(name);
        for (const l of launchesOf(name)) l.status = 'CANCELLED';
        return finish(r, null);
      }
      case 'endpoints': {
        const c = clusters.get(String(b.cluster));
        if (!c || c.status !== 'UP') return fail(r, 'ValueError', `Cluster '${String(b.cluster)}' is not in UP status.`);
        const port = b.port == null ? 8000 : Number(b.port);
        return finish(r, { [String(port)]: `${c.headIp}:${port}` });
      }
      case 'list_accelerators':
        return finish(r, CATALOG);
      case 'enabled_clouds':
        return finish(r, ['AWS', 'Kubernetes']);
      case 'api_cancel': {
        const ids = Array.isArray(b.request_ids) ? (b.request_ids as string[]) : [];
        const cancelled = ids.filter((id) => {
          const t = requests.get(id);
          if (!t || terminal(t)) return false;
          t.status = 'CANCELLED';
          return true;
        });
        return finish(r, cancelled);
      }
    }
  }

  const REQUIRED: Record<string, string[]> = {
    '/launch': ['task', 'cluster_name'],
    '/down': ['cluster_name'],
    '/endpoints': ['cluster'],
    '/logs': ['cluster_name'],
  };
  const NAMES: Record<string, string> = {
    '/launch': 'launch',
    '/status': 'status',
    '/down': 'down',
    '/endpoints': 'endpoints',
    '/list_accelerators': 'list_accelerators',
    '/enabled_clouds': 'enabled_clouds',
    '/api/cancel': 'api_cancel',
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const route = async () => {
      const rawBody = await readBody(req);
      let body: unknown = undefined;
      try {
        body = rawBody ? (JSON.parse(rawBody) as unknown) : undefined;
      } catch {
        body = rawBody;
      }
      recorded.push({ method: req.method ?? 'GET', path, query: url.searchParams, headers: { ...req.headers }, rawBody, body });
      const requestId = randomUUID();
      const idHeader = { 'X-Skypilot-Request-ID': requestId };

      if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
        return sendJson(res, 401, { detail: 'Invalid or expired service account token' }, idHeader);
      }
      const injected = failures.get(path);
      if (injected) {
        failures.delete(path);
        return sendJson(res, injected.status, injected.body, idHeader);
      }
      if (req.method === 'GET' && path === '/api/health') {
        return sendJson(res, 200, { status: 'healthy', api_version: '20', version: '0.0.0-fake', commit: 'fake' }, idHeader);
      }
      if (req.method === 'GET' && path === '/api/get') return apiGet(url.searchParams.get('request_id') ?? '', res);
      if (req.method === 'GET' && path === '/api/status') {
        const ids = url.searchParams.getAll('request_ids');
        const all = url.searchParams.get('all_status') === 'true';
        const list = [...requests.values()].filter((r) =>
          ids.length ? ids.some((id) => r.request_id.startsWith(id)) : all || !terminal(r),
        );
        // readable_encode: no return value or error in listings.
        return sendJson(res, 200, list.map((r) => ({ ...encode(r), return_value: 'null', error: 'null' })), idHeader);
      }
      const payload = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
      const missing = (REQUIRED[path] ?? []).filter((f) => payload[f] === undefined);
      if (missing.length) {
        // FastAPI/pydantic validation error: echoes the whole input back.
        return sendJson(res, 422, { detail: missing.map((f) => ({ type: 'missing', loc: ['body', f], msg: 'Field required', input: payload })) }, idHeader);
      }
      if (req.method === 'POST' && path === '/logs') {
        const c = clusters.get(String(payload.cluster_name));
        const tail = Number(payload.tail ?? 0);
        const lines = c ? (tail > 0 ? c.jobLog.slice(-tail) : c.jobLog) : [`Cluster ${String(payload.cluster_name)} does not exist.`];
        res.writeHead(200, { 'content-type': 'text/plain', ...idHeader });
        res.write('<sky-payload>{"control": "INIT", "status": "Fetching logs"}</sky-payload>\n');
        return res.end(lines.map((l) => `${l}\n`).join(''));
      }
      const name = NAMES[path];
      const method = path === '/enabled_clouds' ? 'GET' : 'POST';
      if (!name || req.method !== method) return sendJson(res, 404, { detail: 'Not Found' }, idHeader);
      const r: FakeRequest = {
        request_id: requestId,
        name,
        status: 'PENDING',
        cluster_name: typeof payload.cluster_name === 'string' ? payload.cluster_name : typeof payload.cluster === 'string' ? payload.cluster : null,
        created_at: Date.now() / 1000,
        return_value: null,
        error: null,
        body: payload,
      };
      requests.set(r.request_id, r);
      const failure = requestFailures.get(path);
      if (failure) {
        requestFailures.delete(path);
        fail(r, failure.type, failure.message);
      } else if (!stalled.has(path)) execute(r);
      return sendJson(res, 200, null, idHeader);
    };
    route().catch((err: Error) => {
      if (!res.headersSent) sendJson(res, 500, { detail: err.message });
      else res.end();
    });
  });

  /** Long-polls like the real /api/get: answers only once the request is finished. */
  function apiGet(id: string, res: ServerResponse) {
    const matches = [...requests.values()].filter((r) => r.request_id.startsWith(id));
    if (!id || matches.length !== 1) return sendJson(res, 404, { detail: `Request '${id}' not found` });
    const r = matches[0]!;
    let closed = false;
    res.on('close', () => (closed = true));
    const check = () => {
      if (closed) return;
      if (!terminal(r)) return void setTimeout(check, 5);
      if (r.status === 'FAILED') return sendJson(res, 500, { detail: encode(r) });
      return sendJson(res, 200, encode(r));
    };
    check();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    /** Every HTTP request received, in order. */
    requests: recorded,
    clusters,
    /** Recorded requests to one path (e.g. '/launch'). */
    requestsTo: (path: string) => recorded.filter((r) => r.path === path),
    /** While true, launches stay PENDING in the queue and create no cluster. */
    set holdLaunches(value: boolean) {
      holdLaunches = value;
    },
    /** Runs held launches for this cluster: the cluster appears as INIT. */
    provision(name: string) {
      for (const r of launchesOf(name)) {
        r.status = 'RUNNING';
        if (!clusters.has(name)) createCluster(name, String(r.body.task));
      }
    },
    /** Moves a cluster along (INIT → UP completes its launch request). */
    setClusterStatus(name: string, status: FakeClusterStatus) {
      const c = clusters.get(name);
      if (!c) throw new Error(`fake: no cluster ${name}`);
      c.status = status;
      if (status === 'UP') for (const r of launchesOf(name)) finish(r, { job_id: 1, handle: 'cGlja2xlZC1oYW5kbGU=' });
    },
    /** A cluster the adapter did not launch (e.g. left by another worker). */
    addCluster(name: string, status: FakeClusterStatus, taskYaml = '') {
      createCluster(name, taskYaml);
      clusters.get(name)!.status = status;
    },
    appendJobLog(name: string, ...lines: string[]) {
      clusters.get(name)?.jobLog.push(...lines);
    },
    /** The next call to `path` gets this HTTP answer instead. */
    failNext(path: string, status: number, body: unknown) {
      failures.set(path, { status, body });
    },
    /** The next request queued on `path` fails on the server with this exception type and message. */
    failNextRequest(path: string, type: string, message: string) {
      requestFailures.set(path, { type, message });
    },
    /** Requests to `path` are queued but never run (a server stuck behind long requests). */
    stall(path: string) {
      stalled.add(path);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type FakeSkypilotApi = Awaited<ReturnType<typeof startFakeSkypilotApi>>;
