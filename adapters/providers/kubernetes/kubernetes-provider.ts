// The `kubernetes` provider: GPU nodes are the cluster's nodes that carry the GPU label; each
// engine replica is one apps/v1 Deployment (replicas 1) plus one ClusterIP Service, both named
// after the replica. Every create tolerates 409 AlreadyExists by reading the object back, and
// every delete tolerates 404, so an activity that is retried creates and removes nothing twice.
import type { Config } from '../../../lib/config.js';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Container,
  type V1Deployment,
  type V1EnvVar,
  type V1Node,
  type V1NodeSelectorRequirement,
  type V1Pod,
  type V1PodSpec,
} from '@kubernetes/client-node';
import { ProviderConfigError, type DiscoveredNode, type EngineInstance, type EngineProbe, type EngineSpec, type ProviderAdapter } from '../types.js';

export interface KubernetesProviderOptions {
  namespace: string;
  /** A label selector that picks the GPU nodes, e.g. `nvidia.com/gpu.present=true`. */
  gpuNodeLabel: string;
  /** Path of a kubeconfig file; without it (and without `kubeConfig`) the in-cluster config. */
  kubeconfig?: string;
  /** An already-loaded config; wins over `kubeconfig`. */
  kubeConfig?: KubeConfig;
}

const ENGINE_PORT = 8000;
const CONTAINER = 'engine';
const GPU_RESOURCE = 'nvidia.com/gpu';
const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
const LABEL = {
  managedBy: 'app.kubernetes.io/managed-by',
  deploymentId: 'inferia.ai/deployment-id',
  replica: 'inferia.ai/replica',
  poolId: 'inferia.ai/pool-id',
  instance: 'inferia.ai/instance',
} as const;
const MANAGED_SELECTOR = `${LABEL.managedBy}=inferia`;
const NAMESPACE_ID_PREFIX = 'k8s:';
const INSTANCE_NAME = /^inferia-[a-z0-9-]+-r\d+$/;

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for tests)

const BINARY_SUFFIX: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL_SUFFIX: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|[eE]([+-]?\d+)|([numkMGTPE]?))$/;

/** A Kubernetes resource quantity ('8', '7500m', '32Gi', '1e9') in base units; 0 when absent or malformed. */
export function parseQuantity(quantity: string | undefined): number {
  const m = QUANTITY.exec((quantity ?? '').trim());
  if (!m) return 0;
  const value = Number(m[1]);
  if (m[2]) return value * BINARY_SUFFIX[m[2]]!;
  if (m[3] !== undefined) return value * 10 ** Number(m[3]);
  return value * (DECIMAL_SUFFIX[m[4] ?? ''] ?? 1);
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** `inferia-<first 8 chars of the deployment id>-r<replica>`: a DNS-1123 label, ≤ 63 characters. */
export function kubernetesInstanceName(deploymentId: string, replicaIndex: number): string {
  const short = deploymentId.slice(0, 8).toLowerCase().replace(/[^a-z0-9-]/g, '-');
  if (!/[a-z0-9]/.test(short)) throw new ProviderConfigError(`deployment id '${deploymentId}' cannot name a Kubernetes object`);
  if (!Number.isInteger(replicaIndex) || replicaIndex < 0) throw new ProviderConfigError(`invalid replica index ${replicaIndex}`);
  return `inferia-${short}-r${replicaIndex}`;
}

/** A label value Kubernetes accepts (≤ 63 chars of [A-Za-z0-9_.-], alphanumeric at both ends). */
function labelValue(value: string): string {
  return value
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/**
 * Turns the GPU node label selector into pod scheduling constraints: `key=value` terms become a
 * nodeSelector, the others (`key`, `!key`, `key!=value`, `key in (a,b)`, `key notin (a,b)`) node
 * affinity expressions, so the pods land exactly on the nodes discovery reports.
 */
export function schedulingFor(selector: string): { nodeSelector: Record<string, string>; expressions: V1NodeSelectorRequirement[] } {
  const nodeSelector: Record<string, string> = {};
  const expressions: V1NodeSelectorRequirement[] = [];
  const terms = selector.split(/,(?![^(]*\))/).map((t) => t.trim()).filter(Boolean);
  for (const term of terms) {
    let m: RegExpExecArray | null;
    if ((m = /^([^\s!=(),]+)\s*(?:==|=)\s*([^\s!=(),]*)$/.exec(term))) nodeSelector[m[1]!] = m[2]!;
    else if ((m = /^([^\s!=(),]+)\s*!=\s*([^\s!=(),]*)$/.exec(term))) expressions.push({ key: m[1]!, operator: 'NotIn', values: [m[2]!] });
    else if ((m = /^([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term))) {
      const values = m[3]!.split(',').map((v) => v.trim()).filter(Boolean);
      expressions.push({ key: m[1]!, operator: m[2] === 'in' ? 'In' : 'NotIn', values });
    } else if ((m = /^!\s*([^\s!=(),]+)$/.exec(term))) expressions.push({ key: m[1]!, operator: 'DoesNotExist' });
    else if ((m = /^([^\s!=(),]+)$/.exec(term))) expressions.push({ key: m[1]!, operator: 'Exists' });
    else throw new ProviderConfigError(`cannot schedule pods by the GPU node label selector '${selector}' (term '${term}')`);
  }
  return { nodeSelector, expressions };
}

// ---------------------------------------------------------------------------------------------
// Client errors

/** The HTTP status of a failed API call (the 1.x client throws ApiException with `.code`). */
function statusOf(err: unknown): number | undefined {
  return err instanceof ApiException && typeof err.code === 'number' ? err.code : undefined;
}

/** A short, secret-free error for a failed call: the Status message, not the client's dump of headers and body. */
function apiError(operation: string, err: unknown): Error {
  const code = statusOf(err);
  if (code === undefined) return err instanceof Error ? err : new Error(String(err));
  let body = (err as ApiException<unknown>).body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body) as unknown;
    } catch {
      /* plain text */
    }
  }
  const detail =
    body && typeof body === 'object' && 'message' in body ? String((body as { message: unknown }).message) : typeof body === 'string' ? body : '';
  const message = `kubernetes: ${operation} failed with HTTP ${code}${detail ? `: ${detail}` : ''}`;
  // Invalid objects and refused permissions do not heal by retrying the same call.
  if (code === 400 || code === 403 || code === 422) return new ProviderConfigError(message);
  return new Error(message, { cause: err });
}

async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw apiError(operation, err);
  }
}

/** The object, or undefined when the API says 404. */
async function readOrMissing<T>(operation: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw apiError(operation, err);
  }
}

/** Creates the object; on 409 a previous attempt made it, so it is read back instead. */
async function createOrRead<T>(operation: string, create: () => Promise<T>, read: () => Promise<T>): Promise<{ object: T; created: boolean }> {
  try {
    return { object: await create(), created: true };
  } catch (err) {
    if (statusOf(err) !== 409) throw apiError(`create ${operation}`, err);
  }
  return { object: await call(`read ${operation}`, read), created: false };
}

async function deleteIfPresent(operation: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (statusOf(err) !== 404) throw apiError(`delete ${operation}`, err);
  }
}

// ---------------------------------------------------------------------------------------------
// Object views

const nodeReady = (node: V1Node) => node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

function nodeView(node: V1Node) {
  const labels = node.metadata?.labels ?? {};
  const allocatable = node.status?.allocatable ?? {};
  return {
    name: node.metadata?.name ?? '',
    gpuType: labels[GPU_PRODUCT_LABEL],
    gpuCount: Math.floor(parseQuantity(allocatable[GPU_RESOURCE])),
    vcpu: round(parseQuantity(allocatable.cpu), 3),
    ramGb: round(parseQuantity(allocatable.memory) / 2 ** 30, 1),
    ready: nodeReady(node),
    schedulable: !node.spec?.unschedulable,
    placement: {
      region: labels['topology.kubernetes.io/region'] ?? null,
      zone: labels['topology.kubernetes.io/zone'] ?? null,
      instanceType: labels['node.kubernetes.io/instance-type'] ?? null,
    },
  };
}

function deploymentSummary(dep: V1Deployment, namespace: string) {
  const name = dep.metadata?.name ?? '';
  return {
    kind: 'deployment',
    namespace,
    deployment: name,
    service: name,
    deploymentId: dep.metadata?.labels?.[LABEL.deploymentId] ?? null,
    replica: dep.metadata?.labels?.[LABEL.replica] ?? null,
    image: dep.spec?.template.spec?.containers[0]?.image ?? null,
    replicas: dep.status?.replicas ?? 0,
    readyReplicas: dep.status?.readyReplicas ?? 0,
    availableReplicas: dep.status?.availableReplicas ?? 0,
    updatedReplicas: dep.status?.updatedReplicas ?? 0,
    conditions: (dep.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason ?? null, message: c.message ?? null })),
    deleting: Boolean(dep.metadata?.deletionTimestamp),
  };
}

/** Why a pod is not serving yet, and whether it is broken rather than still starting. */
function podDiagnosis(pods: V1Pod[]): EngineProbe | undefined {
  for (const pod of pods) {
    for (const status of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      if (status.state?.waiting?.reason === 'CrashLoopBackOff') {
        const last = status.lastState?.terminated;
        const why = status.state.waiting.message ?? (last ? `last exit ${last.exitCode}${last.reason ? ` (${last.reason})` : ''}` : '');
        return { state: 'UNHEALTHY', message: `pod ${pod.metadata?.name}: CrashLoopBackOff${why ? `: ${why}` : ''}` };
      }
    }
  }
  const pod = pods[0];
  if (!pod) return undefined;
  const podName = pod.metadata?.name ?? '?';
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled) return { state: 'PROVISIONING', message: `pod ${podName}: ${unscheduled.reason ?? 'not scheduled'}${unscheduled.message ? `: ${unscheduled.message}` : ''}` };
  for (const status of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const waiting = status.state?.waiting;
    if (waiting?.reason) return { state: 'PROVISIONING', message: `pod ${podName}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` };
  }
  return { state: 'PROVISIONING', message: `pod ${podName} is ${pod.status?.phase ?? 'Pending'}, not ready yet` };
}

const newestFirst = (a: V1Pod, b: V1Pod) =>
  new Date(b.metadata?.creationTimestamp ?? 0).getTime() - new Date(a.metadata?.creationTimestamp ?? 0).getTime();

// ---------------------------------------------------------------------------------------------
// Engine containers

function containerFor(spec: EngineSpec, name: string, tokenSecret: string, publicUrl: string): { container: V1Container; usesToken: boolean } {
  const base: V1Container = {
    name: CONTAINER,
    image: '',
    ports: [{ name: 'http', containerPort: ENGINE_PORT, protocol: 'TCP' }],
    readinessProbe: { httpGet: { path: '/health', port: ENGINE_PORT }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
  };
  const image = typeof spec.configuration.image === 'string' && spec.configuration.image ? spec.configuration.image : undefined;
  switch (spec.engine) {
    case 'vllm': {
      const args = ['--model', spec.artifactUri, '--served-model-name', spec.model, '--port', String(ENGINE_PORT)];
      // One replica spanning several GPUs shards the model across them.
      if (spec.gpuPerReplica > 1) args.push('--tensor-parallel-size', String(spec.gpuPerReplica));
      return {
        container: { ...base, image: image ?? 'vllm/vllm-openai:v0.11.0', args, volumeMounts: [{ name: 'dshm', mountPath: '/dev/shm' }] },
        usesToken: false,
      };
    }
    case 'llama.cpp':
      return {
        container: {
          ...base,
          image: image ?? 'ghcr.io/ggml-org/llama.cpp:server',
          args: ['-m', spec.artifactUri, '--alias', spec.model, '--port', String(ENGINE_PORT), '--host', '0.0.0.0'],
        },
        usesToken: false,
      };
    case 'mock': {
      const env: V1EnvVar[] = [
        { name: 'INFERIA_ENGINE_MODEL', value: spec.model },
        { name: 'INFERIA_ENGINE_HOST', value: '0.0.0.0' },
        { name: 'INFERIA_ENGINE_PORT', value: String(ENGINE_PORT) },
        { name: 'INFERIA_HEARTBEAT_URL', value: spec.heartbeat.url },
        { name: 'INFERIA_NODE_TOKEN', valueFrom: { secretKeyRef: { name: tokenSecret, key: 'token' } } },
        { name: 'INFERIA_HEARTBEAT_INTERVAL_MS', value: String(spec.heartbeat.intervalMs) },
        { name: 'INFERIA_PROVIDER', value: 'kubernetes' },
        { name: 'INFERIA_PROVIDER_INSTANCE_ID', value: name },
        // Report the Service URL, not the pod's 0.0.0.0 listen address.
        { name: 'INFERIA_ENGINE_PUBLIC_URL', value: publicUrl },
        { name: 'INFERIA_MOCK_TOKEN_DELAY_MS', value: String(spec.configuration.token_delay_ms ?? 0) },
      ];
      return {
        container: { ...base, image: image ?? 'inferia:latest', command: ['node', '--import', 'tsx', 'adapters/engines/mock/mock-engine.ts'], env },
        usesToken: true,
      };
    }
    default:
      throw new ProviderConfigError(`engine '${spec.engine}' is not supported by the kubernetes provider (supported: vllm, llama.cpp, mock)`);
  }
}

// ---------------------------------------------------------------------------------------------

function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else throw new ProviderConfigError('kubernetes provider: set KUBECONFIG or run inside a cluster (no KUBERNETES_SERVICE_HOST)');
  return kc;
}

export function createKubernetesProvider(options: KubernetesProviderOptions): ProviderAdapter {
  const namespace = options.namespace;
  const exposeUrl = (name: string) => `http://${name}.${namespace}.svc.cluster.local:${ENGINE_PORT}`;
  const tokenSecretName = (name: string) => `${name}-token`;

  // Clients are made on first use: constructing the adapter reads no file and opens no connection.
  let clients: { core: CoreV1Api; apps: AppsV1Api } | undefined;
  const api = () => {
    if (!clients) {
      const kc = options.kubeConfig ?? loadKubeConfig(options.kubeconfig);
      clients = { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
    }
    return clients;
  };

  let namespaceReady = false;
  async function ensureNamespace(): Promise<void> {
    if (namespaceReady) return;
    const { core } = api();
    try {
      await core.readNamespace({ name: namespace });
    } catch (err) {
      const code = statusOf(err);
      if (code === 404) {
        try {
          await core.createNamespace({ body: { metadata: { name: namespace, labels: { [LABEL.managedBy]: 'inferia' } } } });
        } catch (createErr) {
          if (statusOf(createErr) !== 409) throw apiError(`create namespace ${namespace}`, createErr);
        }
      } else if (code !== 403) {
        // 403: credentials scoped to the namespace cannot read it; the namespaced calls will tell.
        throw apiError(`read namespace ${namespace}`, err);
      }
    }
    namespaceReady = true;
  }

  const gpuNodes = async () =>
    (await call('list GPU nodes', () => api().core.listNode({ labelSelector: options.gpuNodeLabel }))).items;

  const managedDeployments = async () =>
    (await call('list deployments', () => api().apps.listNamespacedDeployment({ namespace, labelSelector: MANAGED_SELECTOR }))).items;

  const readDeployment = (name: string) =>
    readOrMissing(`read deployment ${name}`, () => api().apps.readNamespacedDeployment({ name, namespace }));

  const instancePods = async (name: string) =>
    (await call(`list pods of ${name}`, () => api().core.listNamespacedPod({ namespace, labelSelector: `${LABEL.instance}=${name}` }))).items;

  function toDiscovered(node: V1Node): DiscoveredNode {
    const v = nodeView(node);
    return {
      providerInstanceId: v.name,
      state: v.ready ? 'READY' : 'UNHEALTHY',
      gpuType: v.gpuType,
      gpuCount: v.gpuCount,
      vcpu: v.vcpu,
      ramGb: v.ramGb,
      metadata: { ...v.placement, schedulable: v.schedulable },
    };
  }

  async function stopEngine(id: string): Promise<void> {
    const { apps, core } = api();
    await deleteIfPresent(`deployment ${id}`, () => apps.deleteNamespacedDeployment({ name: id, namespace, propagationPolicy: 'Background' }));
    await deleteIfPresent(`service ${id}`, () => core.deleteNamespacedService({ name: id, namespace }));
    await deleteIfPresent(`secret ${tokenSecretName(id)}`, () => core.deleteNamespacedSecret({ name: tokenSecretName(id), namespace }));
  }

  return {
    name: 'kubernetes',

    async discoverNodes() {
      return (await gpuNodes()).map(toDiscovered);
    },

    async getNodeMetadata(id) {
      if (id.startsWith(NAMESPACE_ID_PREFIX)) {
        const ns = await readOrMissing(`read namespace ${id}`, () => api().core.readNamespace({ name: id.slice(NAMESPACE_ID_PREFIX.length) }));
        return { kind: 'namespace', namespace: id.slice(NAMESPACE_ID_PREFIX.length), exists: ns !== undefined, phase: ns?.status?.phase ?? null };
      }
      if (INSTANCE_NAME.test(id)) {
        const dep = await readDeployment(id);
        if (dep) return { ...deploymentSummary(dep, namespace), exposeUrl: exposeUrl(id) };
      }
      const [node] = (
        await call(`read node ${id}`, () => api().core.listNode({ labelSelector: options.gpuNodeLabel, fieldSelector: `metadata.name=${id}` }))
      ).items;
      if (!node) return { kind: 'unknown', name: id, exists: false };
      const v = nodeView(node);
      return {
        kind: 'node',
        name: v.name,
        ...v.placement,
        gpuType: v.gpuType ?? null,
        ready: v.ready,
        schedulable: v.schedulable,
        capacity: node.status?.capacity ?? {},
        allocatable: node.status?.allocatable ?? {},
      };
    },

    async reconcile(known) {
      const [nodes, deployments] = await Promise.all([gpuNodes(), managedDeployments()]);
      const nodeNames = new Set(nodes.map((n) => n.metadata?.name));
      const deploymentNames = new Set(deployments.map((d) => d.metadata?.name));
      const namespaces = new Map<string, boolean>();
      for (const id of known.filter((k) => k.startsWith(NAMESPACE_ID_PREFIX))) {
        const name = id.slice(NAMESPACE_ID_PREFIX.length);
        if (!namespaces.has(name)) {
          namespaces.set(name, (await readOrMissing(`read namespace ${name}`, () => api().core.readNamespace({ name }))) !== undefined);
        }
      }
      const exists = (id: string) =>
        nodeNames.has(id) || deploymentNames.has(id) || (id.startsWith(NAMESPACE_ID_PREFIX) && namespaces.get(id.slice(NAMESPACE_ID_PREFIX.length)) === true);
      return {
        discovered: nodes.filter((n) => !known.includes(n.metadata?.name ?? '')).map(toDiscovered),
        vanished: known.filter((id) => !exists(id)),
      };
    },

    async provisionNode() {
      // The cluster's nodes are the capacity; a pool needs only the namespace its engines run in.
      await ensureNamespace();
      return `${NAMESPACE_ID_PREFIX}${namespace}`;
    },

    async deprovisionNode(id) {
      // The namespace is shared by every pool on this cluster, so it stays.
      if (id.startsWith(NAMESPACE_ID_PREFIX)) return;
      await stopEngine(id);
    },

    async startEngine(spec: EngineSpec): Promise<EngineInstance> {
      const name = kubernetesInstanceName(spec.deploymentId, spec.replicaIndex);
      const secretName = tokenSecretName(name);
      const { container, usesToken } = containerFor(spec, name, secretName, exposeUrl(name));
      const scheduling = spec.gpuPerReplica > 0 ? schedulingFor(options.gpuNodeLabel) : undefined;
      const labels = {
        [LABEL.managedBy]: 'inferia',
        [LABEL.deploymentId]: labelValue(spec.deploymentId),
        [LABEL.replica]: String(spec.replicaIndex),
        [LABEL.poolId]: labelValue(spec.poolId),
      };
      const podLabels = { ...labels, [LABEL.instance]: name };
      if (spec.gpuPerReplica > 0) container.resources = { limits: { [GPU_RESOURCE]: String(spec.gpuPerReplica) } };

      const podSpec: V1PodSpec = {
        containers: [container],
        automountServiceAccountToken: false, // the engine never talks to the Kubernetes API
        ...(spec.engine === 'vllm' ? { volumes: [{ name: 'dshm', emptyDir: { medium: 'Memory' } }] } : {}),
      };
      if (scheduling) {
        if (Object.keys(scheduling.nodeSelector).length > 0) podSpec.nodeSelector = scheduling.nodeSelector;
        if (scheduling.expressions.length > 0) {
          podSpec.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: scheduling.expressions }] } } };
        }
        // GPU nodes are commonly tainted so that only GPU workloads land on them.
        podSpec.tolerations = [{ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' }];
      }

      await ensureNamespace();
      const { apps, core } = api();

      if (usesToken) {
        // The node token reaches the pod through a Secret, never through the Deployment object.
        await createOrRead(
          `secret ${secretName}`,
          () =>
            core.createNamespacedSecret({
              namespace,
              body: { metadata: { name: secretName, labels }, type: 'Opaque', stringData: { token: spec.heartbeat.token } },
            }),
          () => core.readNamespacedSecret({ name: secretName, namespace }),
        );
      }

      const deployment = await createOrRead(
        `deployment ${name}`,
        () =>
          apps.createNamespacedDeployment({
            namespace,
            body: {
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              metadata: { name, labels },
              spec: {
                replicas: 1,
                selector: { matchLabels: { [LABEL.instance]: name } },
                template: { metadata: { labels: podLabels }, spec: podSpec },
              },
            },
          }),
        () => apps.readNamespacedDeployment({ name, namespace }),
      );
      const owner = deployment.object.metadata?.labels?.[LABEL.deploymentId];
      if (!deployment.created && owner !== labels[LABEL.deploymentId]) {
        // The 8-character prefix collided with another deployment's; reusing its pods would serve the wrong model.
        throw new ProviderConfigError(`kubernetes deployment ${name} already exists and belongs to deployment ${owner ?? '(unmanaged)'}`);
      }

      await createOrRead(
        `service ${name}`,
        () =>
          core.createNamespacedService({
            namespace,
            body: {
              apiVersion: 'v1',
              kind: 'Service',
              metadata: { name, labels },
              spec: {
                type: 'ClusterIP',
                selector: { [LABEL.instance]: name },
                ports: [{ name: 'http', port: ENGINE_PORT, targetPort: ENGINE_PORT, protocol: 'TCP' }],
              },
            },
          }),
        () => core.readNamespacedService({ name, namespace }),
      );

      return {
        providerInstanceId: name,
        exposeUrl: exposeUrl(name),
        metadata: { namespace, deployment: name, service: name, ...(deployment.created ? {} : { reused: true }) },
      };
    },

    stopEngine,

    async probeEngine(id) {
      const dep = await readDeployment(id);
      if (!dep) return { state: 'TERMINATED', message: `deployment ${id} not found in namespace ${namespace}` };
      if (dep.metadata?.deletionTimestamp) return { state: 'TERMINATED', message: `deployment ${id} is being deleted` };
      if ((dep.status?.readyReplicas ?? 0) >= 1) return { state: 'READY', exposeUrl: exposeUrl(id) };
      const diagnosis = podDiagnosis((await instancePods(id)).sort(newestFirst));
      if (diagnosis) return diagnosis;
      const failure = dep.status?.conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
      return { state: 'PROVISIONING', message: failure?.message ?? `deployment ${id}: waiting for its pod to be created` };
    },

    async getLogs(id, opts = {}) {
      const [pod] = (await instancePods(id)).sort(newestFirst);
      const podName = pod?.metadata?.name;
      if (!podName) return [];
      let text: string;
      try {
        text = await api().core.readNamespacedPodLog({ name: podName, namespace, container: CONTAINER, tailLines: opts.tail ?? 200 });
      } catch (err) {
        // 400: the container has not started yet, so there is no log; 404: the pod went away meanwhile.
        if (statusOf(err) === 400 || statusOf(err) === 404) return [];
        throw apiError(`read log of pod ${podName}`, err);
      }
      return text.split('\n').filter(Boolean);
    },

    async listResources() {
      return (await gpuNodes()).map((node) => {
        const v = nodeView(node);
        return {
          name: v.name,
          gpuType: v.gpuType ?? null,
          gpuCount: v.gpuCount,
          vcpu: v.vcpu,
          ramGb: v.ramGb,
          pricePerHour: null,
          available: v.ready && v.schedulable,
        };
      });
    },
  };
}

/** Registry entry (lib/providers.ts). */
export const createProvider = (config: Config): ProviderAdapter => createKubernetesProvider(config.providers.kubernetes);
