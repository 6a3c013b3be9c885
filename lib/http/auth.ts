// Who is asking: a user (JWT access token issued by the filtration gateway), another Inferia
// service (the internal service token), or nobody. Routes then check a permission.
import jwt from 'jsonwebtoken';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { constantTimeEqual } from '../crypto.js';
import { forbidden, unauthorized } from '../errors.js';
import { permissionsFor, type Permission } from '../rbac.js';

export interface AccessClaims {
  sub: string;
  org: string;
  role: string;
  email?: string;
  sid?: string;
  /** Issued at, in milliseconds (set on verification): revocation compares against it. */
  issuedAtMs?: number;
}

export type Caller =
  | {
      kind: 'user';
      userId: string;
      orgId: string;
      role: string;
      permissions: ReadonlySet<Permission>;
      sessionId?: string;
      issuedAt: number;
    }
  | { kind: 'service'; service: string };

export function signAccessToken(config: Config, claims: AccessClaims): string {
  return jwt.sign({ org: claims.org, role: claims.role, email: claims.email, sid: claims.sid, ims: Date.now() }, config.secrets.jwtSecret, {
    algorithm: 'HS256',
    subject: claims.sub,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    expiresIn: config.jwt.accessTtlSeconds,
  });
}

/** Verifies signature (HS256 only: `none` and other algorithms are refused), exp, nbf, iss and aud. */
export function verifyAccessToken(config: Config, token: string): AccessClaims {
  try {
    const payload = jwt.verify(token, config.secrets.jwtSecret, {
      algorithms: ['HS256'],
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
    });
    if (typeof payload !== 'object' || typeof payload.sub !== 'string' || typeof payload.org !== 'string' || typeof payload.role !== 'string') {
      throw new Error('missing claims');
    }
    return {
      sub: payload.sub,
      org: payload.org,
      role: payload.role,
      email: payload.email as string | undefined,
      sid: payload.sid as string | undefined,
      issuedAtMs: typeof payload.ims === 'number' ? payload.ims : typeof payload.iat === 'number' ? payload.iat * 1000 : 0,
    };
  } catch {
    throw unauthorized('invalid or expired access token');
  }
}

export function bearerToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m?.[1];
}

export function authenticate(config: Config, req: FastifyRequest): Caller {
  return authenticateToken(config, bearerToken(req));
}

/** The same check for any transport (HTTP header, gRPC metadata). */
export function authenticateToken(config: Config, token: string | undefined): Caller {
  if (!token) throw unauthorized();
  if (constantTimeEqual(token, config.secrets.internalServiceToken)) return { kind: 'service', service: 'internal' };
  const claims = verifyAccessToken(config, token);
  return {
    kind: 'user',
    userId: claims.sub,
    orgId: claims.org,
    role: claims.role,
    permissions: permissionsFor(claims.role),
    sessionId: claims.sid,
    issuedAt: claims.issuedAtMs ?? 0,
  };
}

export function requirePermission(caller: Caller, permission: Permission): void {
  if (caller.kind === 'service') return;
  if (!caller.permissions.has(permission)) throw forbidden(`permission '${permission}' required`);
}

/**
 * The org a request acts on: a user acts on their own org (naming another is refused); the
 * service token must name one.
 */
export function resolveOrg(caller: Caller, requested: string | undefined | null): string {
  if (caller.kind === 'service') {
    if (!requested) throw forbidden('org_id is required for service calls');
    return requested;
  }
  if (requested && requested !== caller.orgId) throw forbidden('cannot act on another organization');
  return caller.orgId;
}
