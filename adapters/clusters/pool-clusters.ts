// Every compute pool of an organisation is a cluster: its deployments are the jobs.
// RUNNING → running; PENDING / DEPLOYING → queued; STOPPED / FAILED → stopped; the rest → others.
import type { Db } from '../../lib/db.js';
import type { ClusterAdapter, JobInfo, Jobs } from './types.js';

export async function poolClusters(db: Db, orgId: string): Promise<ClusterAdapter[]> {
  const pools = await db.computePool.findMany({ where: { orgId, deletedAt: null }, orderBy: { createdAt: 'asc' } });
  return pools.map((pool) => ({
    name: pool.poolName,
    allowedGroups: [],
    allowedDomains: [],
    async getJobs() {
      const deployments = await db.deployment.findMany({ where: { poolId: pool.id }, orderBy: { createdAt: 'asc' } });
      const jobs: Jobs = { running: [], queued: [], stopped: [], others: [], private_batch_running: [], private_batch_queued: [], cluster_status: {} };
      for (const d of deployments) {
        const job: JobInfo = {
          Models: d.inferenceModel,
          Framework: d.engine,
          Cluster: pool.poolName,
          'Model Status': d.status.toLowerCase(),
          Description: `${d.modelName}@${d.modelVersion} on ${pool.provider}`,
          'Model Version': d.modelVersion,
          Replicas: d.replicas,
        };
        if (d.status === 'RUNNING') jobs.running.push(job);
        else if (d.status === 'PENDING' || d.status === 'DEPLOYING') jobs.queued.push(job);
        else if (d.status === 'STOPPED' || d.status === 'FAILED') jobs.stopped.push(job);
        else jobs.others.push(job);
      }
      jobs.cluster_status = {
        cluster: pool.poolName,
        provider: pool.provider,
        total_models: deployments.length,
        live_models: jobs.running.length,
        stopped_models: jobs.stopped.length,
      };
      return { jobs, error_message: null, error_code: null };
    },
  }));
}
