import { describe, expect, it } from 'vitest';
import { RedisTimeoutError } from '../../lib/redis.js';
import { isDatabaseUnavailable, unavailableDependency } from './unavailable.js';

// The shapes Prisma 7 over the pg adapter throws, as recorded with a stopped Postgres.
const prismaError = (cause: Record<string, unknown>) =>
  Object.assign(new Error('Invalid `prisma.apiKey.findUnique()` invocation'), {
    name: 'PrismaClientKnownRequestError',
    meta: { modelName: 'ApiKey', driverAdapterError: { name: 'DriverAdapterError', cause } },
  });

describe('unreachable dependencies', () => {
  it('recognises a stopped, restarting or unreachable Postgres', () => {
    expect(isDatabaseUnavailable(prismaError({ kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 5432 }))).toBe(true);
    expect(isDatabaseUnavailable(prismaError({ kind: 'postgres', originalCode: '57P01', code: '57P01' }))).toBe(true); // admin shutdown
    expect(isDatabaseUnavailable(prismaError({ kind: 'postgres', originalCode: '57P03', code: '57P03' }))).toBe(true); // starting up
    expect(isDatabaseUnavailable(prismaError({ kind: 'ConnectionClosed' }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('leaves errors about the request or the data alone', () => {
    expect(isDatabaseUnavailable(prismaError({ kind: 'InvalidInputValue', originalCode: '22P02' }))).toBe(false);
    expect(isDatabaseUnavailable(prismaError({ kind: 'UniqueConstraintViolation', originalCode: '23505' }))).toBe(false);
    expect(unavailableDependency(new Error('boom'))).toBeUndefined();
    expect(unavailableDependency(undefined)).toBeUndefined();
  });

  it('names Redis when a command timed out or the connection gave up', () => {
    expect(unavailableDependency(new RedisTimeoutError('Redis command MGET timed out after 2000 ms'))).toBe('redis');
    expect(unavailableDependency(Object.assign(new Error('Reached the max retries per request limit'), { name: 'MaxRetriesPerRequestError' }))).toBe('redis');
    expect(unavailableDependency(new Error('Connection is closed.'))).toBe('redis');
    expect(unavailableDependency(prismaError({ kind: 'DatabaseNotReachable' }))).toBe('database');
  });
});
