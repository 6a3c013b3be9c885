// Preloaded into the gateway with BENCH_CPU_PROFILE=1 (NODE_OPTIONS=--import …; Node refuses
// --cpu-prof there): profiles the whole process and writes a .cpuprofile when it exits, to open in
// Chrome DevTools or speedscope. Plain JavaScript: it loads before tsx does.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROFILE_DIR ?? '.';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 200 });
session.post('Profiler.start');
process.on('exit', () => {
  // An in-process inspector session answers synchronously, so this completes before the exit.
  session.post('Profiler.stop', (err, result) => {
    if (err) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `inference-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
