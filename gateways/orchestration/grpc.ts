// Orchestration API over gRPC: the same service layer and schemas as HTTP, with AppErrors
// mapped to gRPC status codes and server reflection on (grpcurl and friends work unaided).
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { ZodType } from 'zod';
import type { Config } from '../../lib/config.js';
import { AppError, assertNever, type ErrorCode } from '../../lib/errors.js';
import { authenticateToken, type Caller } from '../../lib/http/auth.js';
import { describeError, inspectJson } from '../../lib/http/common.js';
import type { SessionRevocations } from '../../lib/sessions.js';
import {
  CreatePoolBody,
  DeleteModelBody,
  DeployBody,
  DeploymentIdBody,
  ModelNameParams,
  ModelParams,
  OrgQuery,
  OwnerIdParams,
  PoolIdParams,
  RegisterModelBody,
  ScaleBody,
} from './schemas.js';
import type { OrchestrationService } from './service.js';

export const PROTO_PATH = fileURLToPath(new URL('../../proto/inferia/orchestration/v1/orchestration.proto', import.meta.url));
const PACKAGE = 'inferia.orchestration.v1';

export function loadOrchestrationProto() {
  return protoLoader.loadSync(PROTO_PATH, { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true });
}

export function grpcStatusFor(code: ErrorCode): grpc.status {
  switch (code) {
    case 'bad_request':
    case 'payload_too_large':
      return grpc.status.INVALID_ARGUMENT;
    case 'unauthorized':
    case 'totp_required':
      return grpc.status.UNAUTHENTICATED;
    case 'forbidden':
      return grpc.status.PERMISSION_DENIED;
    case 'not_found':
      return grpc.status.NOT_FOUND;
    case 'conflict':
      return grpc.status.FAILED_PRECONDITION;
    case 'rate_limited':
      return grpc.status.RESOURCE_EXHAUSTED;
    case 'unavailable':
    case 'upstream_error':
      return grpc.status.UNAVAILABLE;
    case 'internal':
      return grpc.status.INTERNAL;
    default:
      return assertNever(code);
  }
}

/** Drops nulls and turns the JSON-valued fields into JSON text, as the proto declares them. */
const JSON_FIELDS = new Set(['config_json', 'configuration', 'scheduling_policy_json']);
export function toProto(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toProto);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === null || v === undefined) continue;
      out[k] = JSON_FIELDS.has(k) && typeof v === 'object' ? JSON.stringify(v) : toProto(v);
    }
    return out;
  }
  return value;
}

/** Empty strings are proto3's "not set": drop them so the schema's defaults and checks apply. */
function fromProto(message: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(message).filter(([, v]) => v !== '' && v !== undefined && v !== null));
}

function parse<T>(schema: ZodType<T>, message: Record<string, unknown>): T {
  // What HTTP bodies are checked for too: NUL characters, lone surrogates, deep nesting (JSON fields).
  const problem = inspectJson(message);
  if (problem) {
    const field = problem.path.join('.') || 'request';
    throw new AppError('bad_request', `${field}: ${problem.reason}`, { field });
  }
  const result = schema.safeParse(fromProto(message));
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join('.') || 'request';
    throw new AppError('bad_request', `${field}: ${issue?.message ?? 'invalid value'}`, { field });
  }
  return result.data;
}

function parseJsonField(message: Record<string, unknown>, field: string): Record<string, unknown> {
  const raw = message[field];
  if (raw === undefined || raw === '') return message;
  try {
    return { ...message, [field]: JSON.parse(String(raw)) as unknown };
  } catch {
    throw new AppError('bad_request', `${field}: must be JSON text`, { field });
  }
}

type Handler = (caller: Caller, request: Record<string, unknown>) => Promise<unknown>;

export function createOrchestrationGrpcServer(opts: {
  config: Config;
  service: OrchestrationService;
  sessions?: SessionRevocations;
  log?: { error: (o: object, m: string) => void };
}) {
  const { config, service } = opts;
  const definition = loadOrchestrationProto();
  const proto = grpc.loadPackageDefinition(definition) as unknown as Record<string, Record<string, Record<string, { service: grpc.ServiceDefinition }>>>;
  const pkg = proto.inferia!.orchestration!.v1 as unknown as Record<string, { service: grpc.ServiceDefinition }>;

  const unary = (handler: Handler): grpc.handleUnaryCall<Record<string, unknown>, unknown> => (call, callback) => {
    const header = call.metadata.get('authorization')[0];
    const token = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
    Promise.resolve()
      .then(async () => {
        const caller = authenticateToken(config, token);
        await opts.sessions?.assertLive(caller);
        return handler(caller, call.request);
      })
      .then(
        (result) => callback(null, toProto(result)),
        (err: unknown) => {
          if (err instanceof AppError) return callback({ code: grpcStatusFor(err.code), details: err.message });
          // Input only the database refused (and races it settles) is the caller's, as over HTTP.
          const described = describeError(err);
          if (described.status < 500) return callback({ code: grpcStatusFor(described.code as ErrorCode), details: described.message });
          opts.log?.error({ err }, 'gRPC call failed');
          callback({ code: grpc.status.INTERNAL, details: 'internal server error' });
        },
      );
  };

  const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  server.addService(pkg.ComputePoolManagerService!.service, {
    RegisterPool: unary((c, r) => service.createPool(c, parse(CreatePoolBody, r))),
    ListPools: unary(async (c, r) => ({ pools: await service.listPools(c, parse(OwnerIdParams, r).owner_id) })),
    DeletePool: unary((c, r) => service.deletePool(c, parse(PoolIdParams, r).pool_id)),
    ListPoolInventory: unary((c, r) => service.poolInventory(c, parse(PoolIdParams, r).pool_id)),
  });
  server.addService(pkg.ModelRegistryService!.service, {
    RegisterModel: unary((c, r) => service.registerModel(c, parse(RegisterModelBody, parseJsonField(r, 'config_json')))),
    GetModel: unary((c, r) => {
      const p = parse(ModelParams, r);
      return service.getModel(c, p.name, p.version);
    }),
    ListModels: unary(async (c, r) => ({ models: await service.listModels(c, r.model_name ? parse(ModelNameParams, r).model_name : undefined) })),
    DeleteModel: unary((c, r) => service.deleteModel(c, parse(DeleteModelBody, r))),
  });
  server.addService(pkg.ModelDeploymentService!.service, {
    DeployModel: unary((c, r) => service.deploy(c, parse(DeployBody, parseJsonField(r, 'configuration')))),
    GetDeployment: unary((c, r) => service.getDeployment(c, parse(DeploymentIdBody, r).deployment_id)),
    ListDeployments: unary(async (c, r) => ({ deployments: await service.listDeployments(c, parse(OrgQuery, r).org_id) })),
    StartDeployment: unary((c, r) => service.start(c, parse(DeploymentIdBody, r).deployment_id)),
    TerminateDeployment: unary((c, r) => service.terminate(c, parse(DeploymentIdBody, r).deployment_id)),
    ScaleDeployment: unary((c, r) => {
      const body = parse(ScaleBody, r);
      return service.scale(c, body.deployment_id, body.replicas);
    }),
    DeleteDeployment: unary((c, r) => service.delete(c, parse(DeploymentIdBody, r).deployment_id)),
  });
  new ReflectionService(definition).addToServer(server);
  return server;
}

export function listen(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
}

export { PACKAGE as GRPC_PACKAGE };
