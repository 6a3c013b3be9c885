// Runs before every test file: keep the Temporal SDK's INFO chatter out of the test output.
import { DefaultLogger, Runtime } from '@temporalio/worker';

try {
  Runtime.install({ logger: new DefaultLogger(process.env.TEMPORAL_SDK_LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN') });
} catch {
  // Already installed in this process (a reused fork).
}
