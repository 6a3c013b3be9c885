// The one ProviderAdapter behind `nosana` and `akash`: each engine replica is a sidecar job, named
// `<deploymentId>-r<index>` so a retried start finds the job it already created. No chain SDK
// here: the worker only speaks HTTP to the sidecar.
import { ProviderConfigError, type DiscoveredNode, type EngineProbe, type ProviderAdapter } from '../types.js';
import { SidecarError, createSidecarClient, type SidecarClientOptions, type SidecarJob, type SidecarNetwork } from './sidecar-client.js';

export type DepinProviderOptions = SidecarClientOptions;

export const depinInstanceId = (deploymentId: string, replicaIndex: number) => `${deploymentId}-r${replicaIndex}`;

const isLive = (job: SidecarJob) => job.state === 'QUEUED' || job.state === 'RUNNING';

export function probeFromJob(job: SidecarJob | undefined): EngineProbe {
  if (!job) return { state: 'TERMINATED', message: 'the sidecar has no such job' };
  switch (job.state) {
    case 'QUEUED':
      return { state: 'PROVISIONING', message: job.message ?? 'job queued' };
    case 'RUNNING':
      return job.expose_url ? { state: 'READY', exposeUrl: job.expose_url } : { state: 'PROVISIONING', message: 'job running; no service URL yet' };
    case 'STOPPED':
    case 'COMPLETED':
      return { state: 'TERMINATED', message: job.message ?? `job ${job.state.toLowerCase()}` };
    case 'FAILED':
      return { state: 'UNHEALTHY', message: job.message ?? 'job failed' };
  }
}

/** A refusal of the request itself (bad spec, wrong token) will not go away on retry. */
function asProviderError(err: unknown): unknown {
  if (err instanceof SidecarError && [400, 401, 403, 422].includes(err.status)) return new ProviderConfigError(err.message);
  return err;
}

export function createDepinProvider(network: SidecarNetwork, options: DepinProviderOptions): ProviderAdapter {
  const sidecar = createSidecarClient(network, options);

  const node = (job: SidecarJob): DiscoveredNode => {
    const probe = probeFromJob(job);
    return {
      providerInstanceId: job.job_id,
      state: probe.state,
      gpuCount: 0,
      vcpu: 0,
      ramGb: 0,
      ...(probe.exposeUrl ? { exposeUrl: probe.exposeUrl } : {}),
      metadata: { network, instance_id: job.instance_id, job_state: job.state, ...(job.message ? { message: job.message } : {}) },
    };
  };

  return {
    name: network,

    async discoverNodes() {
      return (await sidecar.listJobs()).filter(isLive).map(node);
    },

    async getNodeMetadata(id) {
      const job = await sidecar.getJob(id);
      if (!job) return { network, job_id: id, found: false };
      return { network, job_id: job.job_id, instance_id: job.instance_id, job_state: job.state, expose_url: job.expose_url ?? null, message: job.message ?? null, found: true };
    },

    async reconcile(known) {
      const live = (await sidecar.listJobs()).filter(isLive);
      const liveIds = new Set(live.map((j) => j.job_id));
      return {
        discovered: live.filter((j) => !known.includes(j.job_id)).map(node),
        vanished: known.filter((id) => !liveIds.has(id)),
      };
    },

    async provisionNode(poolId) {
      // DePIN capacity is rented per job when an engine starts; a pool only needs a handle.
      return `${network}:${poolId}`;
    },

    async deprovisionNode(id) {
      if (id.startsWith(`${network}:`)) return; // a pool handle from provisionNode: nothing rented
      await this.stopEngine(id);
    },

    async startEngine(spec) {
      const instanceId = depinInstanceId(spec.deploymentId, spec.replicaIndex);
      let job: SidecarJob;
      try {
        job = await sidecar.createJob({
          instance_id: instanceId,
          model: spec.model,
          engine: spec.engine,
          artifact_uri: spec.artifactUri,
          gpu_per_replica: spec.gpuPerReplica,
          configuration: spec.configuration,
          heartbeat: { url: spec.heartbeat.url, token: spec.heartbeat.token, interval_ms: spec.heartbeat.intervalMs },
        });
      } catch (err) {
        throw asProviderError(err);
      }
      return {
        providerInstanceId: job.job_id,
        ...(job.state === 'RUNNING' && job.expose_url ? { exposeUrl: job.expose_url } : {}),
        metadata: { network, instance_id: instanceId, job_state: job.state, ...(job.message ? { message: job.message } : {}) },
      };
    },

    async stopEngine(id) {
      try {
        await sidecar.stopJob(id); // an unknown job (404) is already stopped
      } catch (err) {
        throw asProviderError(err);
      }
    },

    async probeEngine(id) {
      return probeFromJob(await sidecar.getJob(id));
    },

    async getLogs(id, opts = {}) {
      return (await sidecar.jobLogs(id, opts.tail)) ?? [];
    },

    async listResources() {
      return (await sidecar.resources()).map((r) => ({
        name: r.name,
        gpuType: r.gpu_type,
        gpuCount: r.gpu_count,
        vcpu: r.vcpu,
        ramGb: r.ram_gb,
        pricePerHour: r.price_per_hour,
        available: r.available,
      }));
    },
  };
}
