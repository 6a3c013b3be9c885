// TEST DOUBLE — a fake Kubernetes API server, not part of the product. It lets the kubernetes
// provider's tests run the real `@kubernetes/client-node` over loopback HTTP where no cluster
// exists. It speaks the real REST paths, object shapes and Status errors (404 NotFound, 409
// AlreadyExists, 422 Invalid, 401 Unauthorized) for exactly the calls the adapter makes, keeps
// objects in memory, and records every request so a test can assert what went over the wire.
// There are no controllers: a test sets deployment status, pods and pod logs itself.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A Kubernetes object as JSON (the fake does not need typed shapes). */
export type KubeObject = Record<string, unknown> & { metadata?: Record<string, unknown> & { name?: string; labels?: Record<string, string> } };

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The Authorization header as received. */
  authorization: string | undefined;
  body: unknown;
}

export interface FakeKubeApi {
  url: string;
  requests: RecordedRequest[];
  /** Adds or replaces a node (cluster-scoped). */
  addNode(node: KubeObject): void;
  /** Adds or replaces a pod, as a ReplicaSet controller would have made it. */
  addPod(namespace: string, pod: KubeObject): void;
  setPodLog(namespace: string, pod: string, text: string): void;
  /** Merges into a deployment's status, as the deployment controller would. */
  setDeploymentStatus(namespace: string, name: string, status: Record<string, unknown>): void;
  /** The stored object, or undefined. */
  get(resource: Resource, namespace: string, name: string): KubeObject | undefined;
  list(resource: Resource, namespace: string): KubeObject[];
  close(): Promise<void>;
}

export type Resource = 'namespaces' | 'nodes' | 'deployments' | 'services' | 'secrets' | 'pods';

interface ResourceInfo {
  kind: string;
  group: string;
  apiVersion: string;
  namespaced: boolean;
}

const RESOURCES: Record<Resource, ResourceInfo> = {
  namespaces: { kind: 'Namespace', group: '', apiVersion: 'v1', namespaced: false },
  nodes: { kind: 'Node', group: '', apiVersion: 'v1', namespaced: false },
  deployments: { kind: 'Deployment', group: 'apps', apiVersion: 'apps/v1', namespaced: true },
  services: { kind: 'Service', group: '', apiVersion: 'v1', namespaced: true },
  secrets: { kind: 'Secret', group: '', apiVersion: 'v1', namespaced: true },
  pods: { kind: 'Pod', group: '', apiVersion: 'v1', namespaced: true },
};
/** What the adapter may create or delete; everything else is read-only here. */
const WRITABLE = new Set<Resource>(['namespaces', 'deployments', 'services', 'secrets']);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

const qualified = (info: ResourceInfo, resource: string) => (info.group ? `${resource}.${info.group}` : resource);
const notFound = (resource: Resource, name: string) =>
  new StatusError(404, 'NotFound', `${qualified(RESOURCES[resource], resource)} "${name}" not found`, {
    name,
    group: RESOURCES[resource].group || undefined,
    kind: resource,
  });

function statusBody(err: StatusError) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: err.message, reason: err.reason, details: err.details, code: err.code };
}

/** Label selectors as the API server reads them: `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated. */
function matchesSelector(labels: Record<string, string>, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((raw) => {
    const term = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([^!=\s]+)\s*!=\s*(\S*)$/.exec(term))) return labels[m[1]!] !== m[2];
    if ((m = /^([^!=\s]+)\s*==?\s*(\S*)$/.exec(term))) return labels[m[1]!] === m[2];
    if ((m = /^!([^!=\s]+)$/.exec(term))) return !(m[1]! in labels);
    if ((m = /^([^!=\s]+)$/.exec(term))) return m[1]! in labels;
    throw new StatusError(400, 'BadRequest', `unable to parse requirement: ${term}`);
  });
}

function matchesFields(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const m = /^metadata\.name==?(.*)$/.exec(term.trim());
    if (!m) throw new StatusError(400, 'BadRequest', `field label not supported: ${term}`);
    return obj.metadata?.name === m[1];
  });
}

function validate(resource: Resource, body: KubeObject): void {
  const name = body.metadata?.name;
  const causes: string[] = [];
  if (typeof name !== 'string' || !DNS_LABEL.test(name) || name.length > 63) causes.push(`metadata.name: Invalid value: "${String(name)}"`);
  for (const [key, value] of Object.entries(body.metadata?.labels ?? {})) {
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) causes.push(`metadata.labels: Invalid value: "${String(value)}" (${key})`);
  }
  if (resource === 'deployments') {
    const spec = body.spec as { selector?: { matchLabels?: Record<string, string> }; template?: { metadata?: { labels?: Record<string, string> } } } | undefined;
    const selector = spec?.selector?.matchLabels ?? {};
    const templateLabels = spec?.template?.metadata?.labels ?? {};
    if (Object.keys(selector).length === 0) causes.push('spec.selector: Required value');
    if (!Object.entries(selector).every(([k, v]) => templateLabels[k] === v)) {
      causes.push('spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`');
    }
  }
  if (causes.length > 0) {
    throw new StatusError(422, 'Invalid', `${RESOURCES[resource].kind} "${String(name)}" is invalid: ${causes.join(', ')}`, {
      name,
      kind: RESOURCES[resource].kind,
    });
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Starts the fake on 127.0.0.1 with a free port. With `token`, requests must carry `Authorization: Bearer <token>`. */
export async function startFakeKubeApi(options: { token?: string } = {}): Promise<FakeKubeApi> {
  const store = new Map<string, KubeObject>(); // `${resource}/${namespace}/${name}`
  const logs = new Map<string, string>(); // `${namespace}/${pod}`
  const requests: RecordedRequest[] = [];
  let resourceVersion = 1000;

  const key = (resource: Resource, namespace: string, name: string) => `${resource}/${RESOURCES[resource].namespaced ? namespace : ''}/${name}`;
  const stamp = (resource: Resource, namespace: string, obj: KubeObject): KubeObject => {
    const info = RESOURCES[resource];
    const metadata = { ...(obj.metadata ?? {}) };
    metadata.uid ??= randomUUID();
    metadata.creationTimestamp ??= new Date().toISOString();
    metadata.resourceVersion = String(++resourceVersion);
    if (info.namespaced) metadata.namespace = namespace;
    if (resource === 'deployments') metadata.generation ??= 1;
    return { ...obj, apiVersion: info.apiVersion, kind: info.kind, metadata };
  };
  const listOf = (resource: Resource, namespace: string) => {
    const prefix = `${resource}/${RESOURCES[resource].namespaced ? namespace : ''}/`;
    return [...store.entries()].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
  };
  const put = (resource: Resource, namespace: string, obj: KubeObject) => {
    const stored = stamp(resource, namespace, obj);
    store.set(key(resource, namespace, stored.metadata!.name!), stored);
    return stored;
  };

  function create(resource: Resource, namespace: string, body: KubeObject): KubeObject {
    if (!body || typeof body !== 'object') throw new StatusError(400, 'BadRequest', 'the body of the request was in an unknown format');
    const info = RESOURCES[resource];
    if (info.namespaced && !store.has(key('namespaces', '', namespace))) {
      throw new StatusError(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
    }
    if (body.kind !== undefined && body.kind !== info.kind) throw new StatusError(400, 'BadRequest', `the API version in the data (${String(body.apiVersion)}) does not match the expected API version`);
    const name = body.metadata?.name ?? '';
    if (store.has(key(resource, namespace, name))) {
      throw new StatusError(409, 'AlreadyExists', `${qualified(info, resource)} "${name}" already exists`, { name, group: info.group || undefined, kind: resource });
    }
    validate(resource, body);
    let obj: KubeObject = body;
    if (resource === 'secrets') {
      // The API server folds write-only stringData into base64 data.
      const { stringData, ...rest } = body as KubeObject & { stringData?: Record<string, string>; data?: Record<string, string> };
      const data = { ...(rest.data ?? {}) };
      for (const [k, v] of Object.entries(stringData ?? {})) data[k] = Buffer.from(v, 'utf8').toString('base64');
      obj = { ...rest, data, type: rest.type ?? 'Opaque' };
    }
    if (resource === 'deployments') obj = { ...obj, status: {} };
    if (resource === 'services') {
      const spec = (obj.spec ?? {}) as Record<string, unknown>;
      obj = { ...obj, spec: { type: 'ClusterIP', clusterIP: `10.96.0.${(resourceVersion % 250) + 1}`, ...spec }, status: { loadBalancer: {} } };
    }
    if (resource === 'namespaces') obj = { ...obj, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
    return put(resource, namespace, obj);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const raw = req.method === 'POST' || req.method === 'PUT' || req.method === 'DELETE' ? await readBody(req) : '';
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const query = Object.fromEntries(url.searchParams.entries());
    requests.push({ method: req.method ?? 'GET', path: url.pathname, query, authorization: req.headers.authorization, body });

    const send = (code: number, payload: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    try {
      if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
        throw new StatusError(401, 'Unauthorized', 'Unauthorized');
      }
      const route =
        /^\/api\/v1\/(namespaces|nodes)(?:\/([^/]+))?$/.exec(url.pathname) ??
        /^\/api\/v1\/namespaces\/([^/]+)\/(services|secrets|pods)(?:\/([^/]+))?(\/log)?$/.exec(url.pathname) ??
        /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments)(?:\/([^/]+))?$/.exec(url.pathname);
      if (!route) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
      let resource: Resource;
      let namespace = '';
      let name: string | undefined;
      let isLog = false;
      if (route[1] === 'namespaces' || route[1] === 'nodes') {
        resource = route[1];
        name = route[2] && decodeURIComponent(route[2]);
      } else {
        namespace = decodeURIComponent(route[1]!);
        resource = route[2] as Resource;
        name = route[3] && decodeURIComponent(route[3]);
        isLog = route[4] === '/log';
      }
      const info = RESOURCES[resource];

      if (isLog) {
        if (req.method !== 'GET') throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        const pod = store.get(key('pods', namespace, name!));
        if (!pod) throw notFound('pods', name!);
        const containers = ((pod.spec as { containers?: { name: string }[] } | undefined)?.containers ?? []).map((c) => c.name);
        const container = query.container ?? containers[0];
        if (container && containers.length > 0 && !containers.includes(container)) {
          throw new StatusError(400, 'BadRequest', `container ${container} is not valid for pod ${name!}`);
        }
        if ((pod.status as { phase?: string } | undefined)?.phase === 'Pending') {
          throw new StatusError(400, 'BadRequest', `container "${container ?? ''}" in pod "${name!}" is waiting to start: ContainerCreating`);
        }
        let lines = (logs.get(`${namespace}/${name!}`) ?? '').split('\n');
        if (lines.at(-1) === '') lines.pop();
        const tail = query.tailLines === undefined ? undefined : Number(query.tailLines);
        if (tail !== undefined) lines = tail > 0 ? lines.slice(-tail) : [];
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(lines.map((l) => `${l}\n`).join(''));
        return;
      }

      if (name === undefined) {
        if (req.method === 'GET') {
          const items = listOf(resource, namespace).filter(
            (o) => matchesSelector(o.metadata?.labels ?? {}, query.labelSelector) && matchesFields(o, query.fieldSelector),
          );
          return send(200, { kind: `${info.kind}List`, apiVersion: info.apiVersion, metadata: { resourceVersion: String(resourceVersion) }, items });
        }
        if (req.method === 'POST' && WRITABLE.has(resource)) return send(201, create(resource, namespace, body as KubeObject));
        throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      }

      const existing = store.get(key(resource, namespace, name));
      if (req.method === 'GET') {
        if (!existing) throw notFound(resource, name);
        return send(200, existing);
      }
      if (req.method === 'DELETE' && WRITABLE.has(resource)) {
        if (!existing) throw notFound(resource, name);
        store.delete(key(resource, namespace, name));
        if (resource === 'namespaces') {
          for (const k of [...store.keys()]) if (k.split('/')[1] === name) store.delete(k);
        }
        return send(200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, group: info.group || undefined, kind: resource, uid: existing.metadata?.uid },
        });
      }
      throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    } catch (err) {
      if (err instanceof StatusError) return send(err.code, statusBody(err));
      return send(500, statusBody(new StatusError(500, 'InternalError', (err as Error).message)));
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(err.message);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    addNode(node) {
      put('nodes', '', node);
    },
    addPod(namespace, pod) {
      put('pods', namespace, pod);
    },
    setPodLog(namespace, pod, text) {
      logs.set(`${namespace}/${pod}`, text);
    },
    setDeploymentStatus(namespace, name, status) {
      const dep = store.get(key('deployments', namespace, name));
      if (!dep) throw new Error(`fake kube api: no deployment ${namespace}/${name}`);
      store.set(key('deployments', namespace, name), { ...dep, status: { ...((dep.status as object | undefined) ?? {}), ...status } });
    },
    get: (resource, namespace, name) => store.get(key(resource, namespace, name)),
    list: (resource, namespace) => listOf(resource, namespace),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
