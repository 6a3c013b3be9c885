// The filtration gateway's services, wired once: main.ts and the tests build them the same way.
import type { Redis } from 'ioredis';
import type { Config } from '../../lib/config.js';
import type { Db } from '../../lib/db.js';
import { SessionRevocations } from '../../lib/sessions.js';
import type { FiltrationAppOptions } from './app.js';
import { AuthService } from './auth-service.js';
import { IdentityService } from './identity-service.js';
import { ManagementService } from './management-service.js';
import { PolicyService } from './policy-service.js';
import { UsageService } from './usage-service.js';

export function createFiltrationServices(deps: { db: Db; redis: Redis; config: Config }): Omit<FiltrationAppOptions, 'ready'> {
  const { db, redis, config } = deps;
  const sessions = new SessionRevocations(redis, config.jwt.accessTtlSeconds);
  const auth = new AuthService({ db, redis, config, sessions });
  return {
    config,
    identity: new IdentityService({ db, config }),
    auth,
    management: new ManagementService({ db, redis, config, endSessions: (userId) => auth.endAllSessions(userId) }),
    policy: new PolicyService({ db, redis, config }),
    usage: new UsageService({ db }),
    sessions,
  };
}
