// Errors every service raises on purpose. A handler throws an AppError; the one error handler
// per service turns it into `{error:{code,message,details}}` (or OpenAI's shape under /v1).
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'totp_required'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'upstream_error'
  | 'internal';

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}

export function statusForCode(code: ErrorCode): number {
  switch (code) {
    case 'bad_request':
      return 400;
    case 'unauthorized':
    case 'totp_required':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'payload_too_large':
      return 413;
    case 'rate_limited':
      return 429;
    case 'upstream_error':
      return 502;
    case 'unavailable':
      return 503;
    case 'internal':
      return 500;
    default:
      return assertNever(code);
  }
}

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = statusForCode(code);
  }
}

export const badRequest = (message: string, field?: string) =>
  new AppError('bad_request', message, field ? { field } : undefined);
export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const conflict = (message: string, details?: Record<string, unknown>) => new AppError('conflict', message, details);
export const unauthorized = (message = 'authentication required') => new AppError('unauthorized', message);
export const forbidden = (message = 'permission denied') => new AppError('forbidden', message);
