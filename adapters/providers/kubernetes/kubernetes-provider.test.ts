// The kubernetes provider against a fake API server over loopback: the real adapter and the real
// @kubernetes/client-node, only the cluster is a test double (fake-kube-api.ts).
import { randomUUID } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderConfigError, type EngineSpec, type ProviderAdapter } from '../types.js';
import { startFakeKubeApi, type FakeKubeApi, type KubeObject } from './fake-kube-api.js';
import { createKubernetesProvider, kubernetesInstanceName, parseQuantity, schedulingFor } from './kubernetes-provider.js';

const GPU_LABEL = 'nvidia.com/gpu.present=true';
const TOKEN = 't';

function kubeConfigFor(url: string, token = TOKEN): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}

function node(
  name: string,
  o: { gpu?: string; cpu: string; memory: string; ready?: boolean; unschedulable?: boolean; labels?: Record<string, string>; product?: string },
): KubeObject {
  const labels: Record<string, string> = { 'kubernetes.io/hostname': name, ...o.labels };
  if (o.gpu !== undefined) labels['nvidia.com/gpu.present'] = 'true';
  if (o.product) labels['nvidia.com/gpu.product'] = o.product;
  const resources: Record<string, string> = { cpu: o.cpu, memory: o.memory, pods: '110', ...(o.gpu !== undefined ? { 'nvidia.com/gpu': o.gpu } : {}) };
  return {
    metadata: { name, labels },
    spec: o.unschedulable ? { unschedulable: true } : {},
    status: {
      capacity: resources,
      allocatable: resources,
      conditions: [
        { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory' },
        { type: 'Ready', status: o.ready === false ? 'False' : 'True', reason: o.ready === false ? 'KubeletNotReady' : 'KubeletReady' },
      ],
    },
  };
}

/** A pod as the ReplicaSet controller would make it from the Deployment's template. */
function podFor(api: FakeKubeApi, namespace: string, deployment: string, podName: string, status: Record<string, unknown>): KubeObject {
  const dep = api.get('deployments', namespace, deployment) as { spec: { template: { metadata: { labels: Record<string, string> }; spec: unknown } } };
  return { metadata: { name: podName, labels: dep.spec.template.metadata.labels }, spec: dep.spec.template.spec as Record<string, unknown>, status };
}

describe('kubernetes provider (against a fake API server)', () => {
  let api: FakeKubeApi;
  let namespace: string;
  let provider: ProviderAdapter;

  const spec = (over: Partial<EngineSpec> = {}): EngineSpec => ({
    deploymentId: randomUUID(),
    replicaIndex: 0,
    poolId: randomUUID(),
    engine: 'vllm',
    model: 'llama-3-8b',
    artifactUri: 'meta-llama/Meta-Llama-3-8B-Instruct',
    gpuPerReplica: 1,
    configuration: {},
    heartbeat: { url: 'http://orchestration:8080/inventory/heartbeat', token: `node-token-${randomUUID()}`, intervalMs: 5000 },
    ...over,
  });
  const posts = (suffix: string) => api.requests.filter((r) => r.method === 'POST' && r.path.endsWith(suffix));

  beforeEach(async () => {
    api = await startFakeKubeApi({ token: TOKEN });
    namespace = `inferia-test-${randomUUID().slice(0, 8)}`;
    provider = createKubernetesProvider({ namespace, gpuNodeLabel: GPU_LABEL, kubeConfig: kubeConfigFor(api.url) });
  });
  afterEach(async () => {
    await api.close();
  });

  it('parses Kubernetes quantities', () => {
    expect(parseQuantity('8')).toBe(8);
    expect(parseQuantity('7500m')).toBe(7.5);
    expect(parseQuantity('32Gi')).toBe(32 * 2 ** 30);
    expect(parseQuantity('32768Mi')).toBe(32 * 2 ** 30);
    expect(parseQuantity('33554432Ki')).toBe(32 * 2 ** 30);
    expect(parseQuantity('1.5k')).toBe(1500);
    expect(parseQuantity('128974848')).toBe(128974848);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity(undefined)).toBe(0);
    expect(parseQuantity('lots')).toBe(0);
  });

  it('names instances as DNS-1123 labels and turns the GPU selector into scheduling rules', () => {
    expect(kubernetesInstanceName('3F2A9C1B-77aa-4d4e-9f00-0123456789ab', 2)).toBe('inferia-3f2a9c1b-r2');
    expect(kubernetesInstanceName('ab_cd.ef', 0)).toBe('inferia-ab-cd-ef-r0');
    expect(() => kubernetesInstanceName('____', 0)).toThrow(ProviderConfigError);
    expect(schedulingFor('nvidia.com/gpu.present=true')).toEqual({ nodeSelector: { 'nvidia.com/gpu.present': 'true' }, expressions: [] });
    expect(schedulingFor('nvidia.com/gpu.present, pool in (a, b),!cordon')).toEqual({
      nodeSelector: {},
      expressions: [
        { key: 'nvidia.com/gpu.present', operator: 'Exists' },
        { key: 'pool', operator: 'In', values: ['a', 'b'] },
        { key: 'cordon', operator: 'DoesNotExist' },
      ],
    });
  });

  it('constructing the adapter does no I/O; clients are made on first use', async () => {
    const lazy = createKubernetesProvider({ namespace, gpuNodeLabel: GPU_LABEL, kubeconfig: '/nonexistent/kubeconfig' });
    expect(lazy.name).toBe('kubernetes');
    await expect(lazy.discoverNodes()).rejects.toThrow(/nonexistent/);
    createKubernetesProvider({ namespace, gpuNodeLabel: GPU_LABEL, kubeConfig: kubeConfigFor(api.url) });
    expect(api.requests).toHaveLength(0);
  });

  it('discovers GPU nodes by label selector, with quantities, readiness and placement', async () => {
    api.addNode(
      node('gpu-a', {
        gpu: '2',
        cpu: '7500m',
        memory: '32Gi',
        product: 'NVIDIA-A100-SXM4-80GB',
        labels: { 'topology.kubernetes.io/region': 'eu-west-1', 'topology.kubernetes.io/zone': 'eu-west-1a', 'node.kubernetes.io/instance-type': 'p4d.24xlarge' },
      }),
    );
    api.addNode(node('gpu-b', { gpu: '1', cpu: '16', memory: '33554432Ki', ready: false }));
    api.addNode(node('cpu-only', { cpu: '4', memory: '16Gi' }));

    const nodes = await provider.discoverNodes();
    expect(nodes.sort((a, b) => a.providerInstanceId.localeCompare(b.providerInstanceId))).toEqual([
      {
        providerInstanceId: 'gpu-a',
        state: 'READY',
        gpuType: 'NVIDIA-A100-SXM4-80GB',
        gpuCount: 2,
        vcpu: 7.5,
        ramGb: 32,
        metadata: { region: 'eu-west-1', zone: 'eu-west-1a', instanceType: 'p4d.24xlarge', schedulable: true },
      },
      {
        providerInstanceId: 'gpu-b',
        state: 'UNHEALTHY',
        gpuType: undefined,
        gpuCount: 1,
        vcpu: 16,
        ramGb: 32,
        metadata: { region: null, zone: null, instanceType: null, schedulable: true },
      },
    ]);
    const [list] = api.requests;
    expect(list).toMatchObject({ method: 'GET', path: '/api/v1/nodes', query: { labelSelector: GPU_LABEL }, authorization: 'Bearer t' });

    const meta = await provider.getNodeMetadata('gpu-a');
    expect(meta).toMatchObject({ kind: 'node', region: 'eu-west-1', zone: 'eu-west-1a', instanceType: 'p4d.24xlarge', gpuType: 'NVIDIA-A100-SXM4-80GB' });
    expect(meta.capacity).toMatchObject({ cpu: '7500m', memory: '32Gi', 'nvidia.com/gpu': '2' });
    expect(await provider.getNodeMetadata('cpu-only')).toMatchObject({ exists: false });
  });

  it('startEngine (vllm, 1 GPU) creates one Deployment and one Service with the GPU limit, node selector and labels', async () => {
    const s = spec({ configuration: { image: 'vllm/vllm-openai:v0.10.2' } });
    const name = `inferia-${s.deploymentId.slice(0, 8)}-r0`;
    const instance = await provider.startEngine(s);

    expect(instance).toEqual({
      providerInstanceId: name,
      exposeUrl: `http://${name}.${namespace}.svc.cluster.local:8000`,
      metadata: { namespace, deployment: name, service: name },
    });
    expect(posts('/namespaces')).toHaveLength(1);
    expect(posts(`/namespaces/${namespace}/deployments`)).toHaveLength(1);
    expect(posts(`/namespaces/${namespace}/services`)).toHaveLength(1);
    expect(posts(`/namespaces/${namespace}/secrets`)).toHaveLength(0); // vLLM sends no heartbeat, so needs no token
    expect(api.requests.every((r) => r.authorization === 'Bearer t')).toBe(true);

    const labels = {
      'app.kubernetes.io/managed-by': 'inferia',
      'inferia.ai/deployment-id': s.deploymentId,
      'inferia.ai/replica': '0',
      'inferia.ai/pool-id': s.poolId,
    };
    const sent = posts(`/namespaces/${namespace}/deployments`)[0]!.body as {
      metadata: { name: string; labels: Record<string, string> };
      spec: { replicas: number; selector: unknown; template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> } };
    };
    expect(sent.metadata).toEqual({ name, labels });
    expect(sent.spec.replicas).toBe(1);
    expect(sent.spec.selector).toEqual({ matchLabels: { 'inferia.ai/instance': name } });
    expect(sent.spec.template.metadata.labels).toEqual({ ...labels, 'inferia.ai/instance': name });
    const pod = sent.spec.template.spec as {
      nodeSelector: Record<string, string>;
      containers: { image: string; args: string[]; command?: string[]; resources: unknown; readinessProbe: unknown; ports: unknown }[];
    };
    expect(pod.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(pod.containers).toHaveLength(1);
    expect(pod.containers[0]).toMatchObject({
      image: 'vllm/vllm-openai:v0.10.2',
      args: ['--model', s.artifactUri, '--served-model-name', 'llama-3-8b', '--port', '8000'],
      resources: { limits: { 'nvidia.com/gpu': '1' } },
      readinessProbe: { httpGet: { path: '/health', port: 8000 } },
      ports: [{ name: 'http', containerPort: 8000, protocol: 'TCP' }],
    });
    expect(pod.containers[0]!.command).toBeUndefined();

    const svc = posts(`/namespaces/${namespace}/services`)[0]!.body as { metadata: unknown; spec: unknown };
    expect(svc.metadata).toEqual({ name, labels });
    expect(svc.spec).toEqual({
      type: 'ClusterIP',
      selector: { 'inferia.ai/instance': name },
      ports: [{ name: 'http', port: 8000, targetPort: 8000, protocol: 'TCP' }],
    });
    expect(api.list('deployments', namespace)).toHaveLength(1);
    expect(api.list('services', namespace)).toHaveLength(1);
  });

  it('a retried startEngine creates nothing new and returns the same instance', async () => {
    const s = spec({ engine: 'mock', gpuPerReplica: 0 });
    const first = await provider.startEngine(s);
    // A fresh adapter, as after a worker restart: no in-process memory of the first attempt.
    const again = createKubernetesProvider({ namespace, gpuNodeLabel: GPU_LABEL, kubeConfig: kubeConfigFor(api.url) });
    const before = api.requests.length;
    const second = await again.startEngine(s);

    expect(second.providerInstanceId).toBe(first.providerInstanceId);
    expect(second.exposeUrl).toBe(first.exposeUrl);
    expect(second.metadata).toMatchObject({ reused: true });
    expect(api.list('deployments', namespace)).toHaveLength(1);
    expect(api.list('services', namespace)).toHaveLength(1);
    expect(api.list('secrets', namespace)).toHaveLength(1);
    const retried = api.requests.slice(before);
    expect(retried.filter((r) => r.method === 'POST' && r.path === '/api/v1/namespaces')).toHaveLength(0);
    // Each create was refused with 409 and the existing object read back.
    expect(retried.filter((r) => r.method === 'POST').map((r) => r.path.split('/').pop())).toEqual(['secrets', 'deployments', 'services']);
    expect(retried.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual([
      `/api/v1/namespaces/${namespace}`,
      `/api/v1/namespaces/${namespace}/secrets/${first.providerInstanceId}-token`,
      `/apis/apps/v1/namespaces/${namespace}/deployments/${first.providerInstanceId}`,
      `/api/v1/namespaces/${namespace}/services/${first.providerInstanceId}`,
    ]);
  });

  it('refuses to reuse a Deployment of another deployment whose id shares the 8-character prefix', async () => {
    await provider.startEngine(spec({ deploymentId: 'abcdef12-0000-4000-8000-000000000001' }));
    await expect(provider.startEngine(spec({ deploymentId: 'abcdef12-0000-4000-8000-000000000002' }))).rejects.toThrow(ProviderConfigError);
  });

  it('runs llama.cpp and the mock engine with their own containers; the node token stays in a Secret', async () => {
    const llama = spec({ engine: 'llama.cpp', artifactUri: '/models/qwen2.5-0.5b-q4.gguf', model: 'qwen-small', gpuPerReplica: 2 });
    const l = await provider.startEngine(llama);
    const lpod = (api.get('deployments', namespace, l.providerInstanceId) as { spec: { template: { spec: Record<string, unknown> } } }).spec.template.spec as {
      containers: { image: string; args: string[]; resources: unknown }[];
    };
    expect(lpod.containers[0]).toMatchObject({
      image: 'ghcr.io/ggml-org/llama.cpp:server',
      args: ['-m', '/models/qwen2.5-0.5b-q4.gguf', '--alias', 'qwen-small', '--port', '8000', '--host', '0.0.0.0'],
      resources: { limits: { 'nvidia.com/gpu': '2' } },
    });

    const mock = spec({ engine: 'mock', gpuPerReplica: 0, replicaIndex: 3, model: 'demo-model' });
    const m = await provider.startEngine(mock);
    expect(m.providerInstanceId).toMatch(/-r3$/);
    const sent = posts(`/namespaces/${namespace}/deployments`).at(-1)!.body as { spec: { template: { spec: Record<string, unknown> } } };
    const mpod = sent.spec.template.spec as {
      nodeSelector?: unknown;
      containers: { image: string; command: string[]; resources?: unknown; env: { name: string; value?: string; valueFrom?: unknown }[]; readinessProbe: unknown }[];
    };
    const c = mpod.containers[0]!;
    expect(c.image).toBe('inferia:latest');
    expect(c.command).toEqual(['node', '--import', 'tsx', 'adapters/engines/mock/mock-engine.ts']);
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/health', port: 8000 } });
    expect(c.resources).toBeUndefined();
    expect(mpod.nodeSelector).toBeUndefined();
    const env = Object.fromEntries(c.env.map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({
      INFERIA_ENGINE_MODEL: 'demo-model',
      INFERIA_ENGINE_HOST: '0.0.0.0',
      INFERIA_ENGINE_PORT: '8000',
      INFERIA_HEARTBEAT_URL: mock.heartbeat.url,
      INFERIA_HEARTBEAT_INTERVAL_MS: '5000',
      INFERIA_PROVIDER: 'kubernetes',
      INFERIA_PROVIDER_INSTANCE_ID: m.providerInstanceId,
      INFERIA_NODE_TOKEN: { secretKeyRef: { name: `${m.providerInstanceId}-token`, key: 'token' } },
    });
    // The token went over the wire only in the Secret, and the API server stores it there.
    const carrying = api.requests.filter((r) => JSON.stringify(r.body ?? '').includes(mock.heartbeat.token));
    expect(carrying.map((r) => r.path)).toEqual([`/api/v1/namespaces/${namespace}/secrets`]);
    const secret = api.get('secrets', namespace, `${m.providerInstanceId}-token`) as { data: { token: string } };
    expect(Buffer.from(secret.data.token, 'base64').toString()).toBe(mock.heartbeat.token);
  });

  it('rejects an unsupported engine with ProviderConfigError and creates nothing', async () => {
    const err = await provider.startEngine(spec({ engine: 'tensorrt-llm' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderConfigError);
    expect((err as Error).message).toContain('tensorrt-llm');
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('probes PROVISIONING (with the pod reason) → READY → TERMINATED after stopEngine; stopping twice is fine', async () => {
    const { providerInstanceId: id, exposeUrl } = await provider.startEngine(spec());

    expect(await provider.probeEngine(id)).toEqual({ state: 'PROVISIONING', message: `deployment ${id}: waiting for its pod to be created` });

    api.addPod(
      namespace,
      podFor(api, namespace, id, `${id}-7d9f8-x1`, {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.' }],
      }),
    );
    const unschedulable = await provider.probeEngine(id);
    expect(unschedulable.state).toBe('PROVISIONING');
    expect(unschedulable.message).toContain('Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.');

    api.addPod(
      namespace,
      podFor(api, namespace, id, `${id}-7d9f8-x1`, {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'True' }],
        containerStatuses: [
          { name: 'engine', ready: false, restartCount: 0, image: 'vllm/vllm-openai:v0.11.0', imageID: '', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "vllm/vllm-openai:v0.11.0"' } } },
        ],
      }),
    );
    const pulling = await provider.probeEngine(id);
    expect(pulling.state).toBe('PROVISIONING');
    expect(pulling.message).toContain('ImagePullBackOff');

    api.setDeploymentStatus(namespace, id, { replicas: 1, readyReplicas: 1, availableReplicas: 1 });
    expect(await provider.probeEngine(id)).toEqual({ state: 'READY', exposeUrl });
    expect(await provider.getNodeMetadata(id)).toMatchObject({ kind: 'deployment', namespace, deployment: id, readyReplicas: 1 });

    await provider.stopEngine(id);
    expect(api.get('deployments', namespace, id)).toBeUndefined();
    expect(api.get('services', namespace, id)).toBeUndefined();
    const deletes = api.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
    expect(deletes).toEqual([
      `/apis/apps/v1/namespaces/${namespace}/deployments/${id}`,
      `/api/v1/namespaces/${namespace}/services/${id}`,
      `/api/v1/namespaces/${namespace}/secrets/${id}-token`,
    ]);
    expect((await provider.probeEngine(id)).state).toBe('TERMINATED');

    await expect(provider.stopEngine(id)).resolves.toBeUndefined();
    await expect(provider.deprovisionNode(id)).resolves.toBeUndefined();
  });

  it('reports a crash-looping engine as UNHEALTHY', async () => {
    const { providerInstanceId: id } = await provider.startEngine(spec({ engine: 'mock', gpuPerReplica: 0 }));
    api.addPod(
      namespace,
      podFor(api, namespace, id, `${id}-abc12-q9`, {
        phase: 'Running',
        containerStatuses: [
          {
            name: 'engine',
            ready: false,
            restartCount: 4,
            image: 'inferia:latest',
            imageID: '',
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 1m20s restarting failed container=engine' } },
            lastState: { terminated: { exitCode: 1, reason: 'Error' } },
          },
        ],
      }),
    );
    const probe = await provider.probeEngine(id);
    expect(probe.state).toBe('UNHEALTHY');
    expect(probe.message).toContain('CrashLoopBackOff: back-off 1m20s');
  });

  it('getLogs reads the tail of the engine pod log', async () => {
    const { providerInstanceId: id } = await provider.startEngine(spec({ engine: 'mock', gpuPerReplica: 0 }));
    expect(await provider.getLogs(id)).toEqual([]);

    const podName = `${id}-5c6d7-k2`;
    api.addPod(namespace, podFor(api, namespace, id, podName, { phase: 'Running' }));
    api.setPodLog(namespace, podName, Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join('\n') + '\n');

    expect(await provider.getLogs(id, { tail: 3 })).toEqual(['line 8', 'line 9', 'line 10']);
    const read = api.requests.filter((r) => r.path.endsWith('/log')).at(-1)!;
    expect(read).toMatchObject({ path: `/api/v1/namespaces/${namespace}/pods/${podName}/log`, query: { tailLines: '3', container: 'engine' } });
    const listed = api.requests.filter((r) => r.method === 'GET' && r.path === `/api/v1/namespaces/${namespace}/pods`).at(-1)!;
    expect(listed.query.labelSelector).toBe(`inferia.ai/instance=${id}`);
  });

  it('reconcile reports new GPU nodes and known ids that vanished', async () => {
    api.addNode(node('gpu-a', { gpu: '1', cpu: '8', memory: '32Gi' }));
    api.addNode(node('gpu-new', { gpu: '4', cpu: '32', memory: '128Gi' }));
    const pool = await provider.provisionNode(randomUUID(), {});
    expect(pool).toBe(`k8s:${namespace}`);
    const { providerInstanceId: running } = await provider.startEngine(spec());
    const stopped = (await provider.startEngine(spec())).providerInstanceId;
    await provider.stopEngine(stopped);

    const result = await provider.reconcile(['gpu-a', 'gpu-gone', running, stopped, pool]);
    expect(result.discovered.map((n) => n.providerInstanceId)).toEqual(['gpu-new']);
    expect(result.discovered[0]).toMatchObject({ gpuCount: 4, vcpu: 32, ramGb: 128, state: 'READY' });
    expect(result.vanished.sort()).toEqual(['gpu-gone', stopped].sort());
    const listedDeployments = api.requests.find((r) => r.method === 'GET' && r.path === `/apis/apps/v1/namespaces/${namespace}/deployments`);
    expect(listedDeployments?.query.labelSelector).toBe('app.kubernetes.io/managed-by=inferia');
  });

  it('provisionNode makes sure the namespace exists, once', async () => {
    expect(await provider.provisionNode(randomUUID(), {})).toBe(`k8s:${namespace}`);
    expect(api.get('namespaces', '', namespace)).toMatchObject({ metadata: { name: namespace }, status: { phase: 'Active' } });
    const other = createKubernetesProvider({ namespace, gpuNodeLabel: GPU_LABEL, kubeConfig: kubeConfigFor(api.url) });
    expect(await other.provisionNode(randomUUID(), {})).toBe(`k8s:${namespace}`);
    expect(posts('/namespaces')).toHaveLength(1);
    await expect(provider.deprovisionNode(`k8s:${namespace}`)).resolves.toBeUndefined();
    expect(api.get('namespaces', '', namespace)).toBeDefined();
  });

  it('lists GPU nodes as resources, available only when Ready and schedulable', async () => {
    api.addNode(node('gpu-a', { gpu: '8', cpu: '96', memory: '1152Gi', product: 'NVIDIA-H100-80GB-HBM3' }));
    api.addNode(node('gpu-cordoned', { gpu: '1', cpu: '8', memory: '32768Mi', unschedulable: true }));
    api.addNode(node('gpu-down', { gpu: '1', cpu: '8', memory: '32Gi', ready: false }));
    api.addNode(node('cpu-only', { cpu: '4', memory: '16Gi' }));
    const resources = await provider.listResources();
    expect(resources.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'gpu-a', gpuType: 'NVIDIA-H100-80GB-HBM3', gpuCount: 8, vcpu: 96, ramGb: 1152, pricePerHour: null, available: true },
      { name: 'gpu-cordoned', gpuType: null, gpuCount: 1, vcpu: 8, ramGb: 32, pricePerHour: null, available: false },
      { name: 'gpu-down', gpuType: null, gpuCount: 1, vcpu: 8, ramGb: 32, pricePerHour: null, available: false },
    ]);
  });

  it('surfaces API refusals as short errors without the client dump', async () => {
    const wrongToken = createKubernetesProvider({ namespace, gpuNodeLabel: GPU_LABEL, kubeConfig: kubeConfigFor(api.url, 'wrong') });
    const err = (await wrongToken.discoverNodes().catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ProviderConfigError);
    expect(err.message).toMatch(/list GPU nodes failed with HTTP 401/);
    expect(err.message).not.toContain('Headers');
  });
});
