// `npm run bench:guardrails`: what the guardrail library costs a request, in-process (no network).
// The policy is the benchmark's (PII redact + prompt injection block, on input and output); the
// request is bench/run.ts's chat, the answer the mock upstream's, whole (JSON) or in its 20 SSE
// pieces through the stream filter. Longer prompts show how the cost grows with the text. The
// baseline, measured in the same run: JSON.parse(JSON.stringify()) of the same request, which the
// gateway does anyway. Figures go to bench/guardrails-results.json.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePolicy, type ChatMessage } from '../gateways/inference/guardrails/index.js';

const POLICY = {
  rules: [
    { type: 'pii', stage: 'both', action: 'redact', options: {} },
    { type: 'prompt_injection', stage: 'both', action: 'block', options: {} },
  ],
};
const PROMPT: ChatMessage[] = [
  { role: 'system', content: 'You are a concise assistant. Answer in two sentences at most.' },
  { role: 'user', content: 'Summarise the plot of Hamlet for a reader who has never seen the play, without spoilers beyond the first act.' },
];
const ANSWER = 'Hamlet, prince of Denmark, avenges his father’s murder by his uncle Claudius; nearly everyone dies.';
/** The answer as the mock streams it: 20 pieces of words. */
const PIECES = (() => {
  const words = ANSWER.split(' ');
  const per = Math.ceil(words.length / 20);
  return Array.from({ length: 20 }, (_, i) => (i === 0 ? '' : ' ') + words.slice(i * per, (i + 1) * per).join(' ')).filter((p) => p.trim());
})();
/** Ordinary prose (no PII, no injection) of about `bytes`. */
const prose = (bytes: number) => {
  const s = 'The committee reviewed the quarterly figures and agreed to revisit the budget for the northern sites next spring, once the survey results are in. ';
  return s.repeat(Math.ceil(bytes / s.length)).slice(0, bytes);
};

function measure(fn: () => unknown, minMs = 400): { us: number; runs: number } {
  for (let i = 0; i < 200; i++) fn(); // warm up (JIT)
  let runs = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 100; i++) fn();
    runs += 100;
    elapsed = performance.now() - start;
  }
  return { us: (elapsed * 1000) / runs, runs };
}

async function measureAsync(fn: () => Promise<unknown>, minMs = 400): Promise<{ us: number; runs: number }> {
  for (let i = 0; i < 200; i++) await fn();
  let runs = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 100; i++) await fn();
    runs += 100;
    elapsed = performance.now() - start;
  }
  return { us: (elapsed * 1000) / runs, runs };
}

export async function guardrailBench(): Promise<Record<string, unknown>> {
  const policy = compilePolicy(POLICY);
  if (policy.problems.length) throw new Error(`bench policy: ${policy.problems.join('; ')}`);
  const request = { model: 'bench-mock', messages: PROMPT, max_tokens: 64, temperature: 0.2 };
  const baseline = measure(() => JSON.parse(JSON.stringify(request)));

  const rows: { case: string; us: number; ratio: number }[] = [];
  const add = (name: string, us: number) => rows.push({ case: name, us, ratio: us / baseline.us });

  add('input: bench prompt (2 messages, 180 chars)', (await measureAsync(() => policy.checkInput(PROMPT))).us);
  add('output: bench answer, whole (JSON)', (await measureAsync(() => policy.checkOutput(ANSWER))).us);
  add(
    'output: bench answer, 20 stream pieces',
    (
      await measureAsync(async () => {
        const f = policy.createOutputFilter();
        for (const p of PIECES) f.feed(p);
        await f.end();
      })
    ).us,
  );
  const typical = rows.reduce((a, r) => a + (r.case.includes('whole') ? 0 : r.us), 0);
  add('typical streamed request (input + stream)', typical);
  for (const kb of [4, 32]) {
    const long: ChatMessage[] = [PROMPT[0]!, { role: 'user', content: prose(kb * 1024) }];
    add(`input: ${kb} KB prompt`, (await measureAsync(() => policy.checkInput(long), 600)).us);
    add(`output: ${kb} KB answer, whole`, (await measureAsync(() => policy.checkOutput(prose(kb * 1024)), 600)).us);
  }

  const lines = [
    `Guardrail library per request (PII redact + injection block, input and output); ${cpus().length} CPUs, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
    `baseline: JSON.parse(JSON.stringify(request)) = ${baseline.us.toFixed(2)} µs`,
    '',
    `${'case'.padEnd(46)}  ${'µs'.padStart(9)}  × baseline`,
    ...rows.map((r) => `${r.case.padEnd(46)}  ${r.us.toFixed(1).padStart(9)}  ${r.ratio.toFixed(1).padStart(10)}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const results = { generated_at: new Date().toISOString(), node: process.version, baseline_us: baseline.us, rows };
  writeFileSync(join(fileURLToPath(new URL('.', import.meta.url)), 'guardrails-results.json'), `${JSON.stringify(results, null, 2)}\n`);
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await guardrailBench();
