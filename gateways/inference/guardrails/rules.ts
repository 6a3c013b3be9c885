// Stored policy config → compiled rules, once per policy. The stored shape is the management API's
// (`{ rules: [{ type, stage, action, options }] }`); options are snake_case. Nothing here compiles a
// regex from config: options are numbers, lists of plain words, and names of built-in types.
import { z } from 'zod';
import { createInjectionDetector } from './injection.js';
import { createLlmJudgeGuardrail } from './llm-judge.js';
import { createPiiDetector, PII_GROUPS, PII_TYPES } from './pii.js';
import { createToxicityDetector } from './toxicity.js';
import { detectorGuardrail } from './verdict.js';
import type { VerdictCache } from './verdict-cache.js';
import type { Detector, FailMode, Guardrail, GuardrailType, JudgeFn, RuleAction, Stage } from './types.js';

export interface CompiledRule {
  /** Position in the policy list, then in the policy's rules: the order rules run in. */
  index: number;
  policy?: string;
  type: GuardrailType | 'invalid_rule';
  stages: ReadonlySet<Stage>;
  action: RuleAction;
  failMode: FailMode;
  /** Message roles the rule reads on input; undefined: all. */
  roles?: ReadonlySet<string>;
  /** Synchronous rules have a detector (the stream filter uses it directly); the judge has none. */
  detector?: Detector;
  guardrail: Guardrail;
}

export interface CompileDeps {
  /** Reaches the deployed guard model; without it, `llm_judge` rules fall to their fail mode. */
  judge?: JudgeFn;
  /** Where input verdicts are kept for texts that come again: the process's shared cache unless set; null: none. */
  verdicts?: VerdictCache | null;
}

const Rule = z.object({
  type: z.enum(['pii', 'toxicity', 'prompt_injection', 'llm_judge']),
  stage: z.enum(['input', 'output', 'both']).default('input'),
  action: z.enum(['block', 'redact', 'log']).default('block'),
  options: z.record(z.string(), z.unknown()).default({}),
});

const DEFAULT_ROLES: Record<GuardrailType, readonly string[] | undefined> = {
  pii: undefined, // personal data leaves with any message, the system prompt included
  toxicity: ['user'],
  prompt_injection: ['user', 'tool', 'function'], // tool results carry indirect injection
  llm_judge: ['user', 'tool', 'function'],
};

const KNOWN_PII = new Set<string>([...PII_TYPES, ...Object.keys(PII_GROUPS)]);

/** Reads one option; a present but invalid value is reported and the default used. */
function option<T>(options: Record<string, unknown>, key: string, schema: z.ZodType<T>, problems: string[], where: string): T | undefined {
  if (options[key] === undefined || options[key] === null) return undefined;
  const parsed = schema.safeParse(options[key]);
  if (parsed.success) return parsed.data;
  problems.push(`${where}: option ${key} is invalid; using the default`);
  return undefined;
}

const words = z.array(z.string().max(200)).max(1000);

/** A stored rule that cannot be read blocks (fails closed): a protection that silently vanished would be worse. */
function invalidRule(index: number, policy: string | undefined): CompiledRule {
  return {
    index,
    policy,
    type: 'invalid_rule',
    stages: new Set<Stage>(['input', 'output']),
    action: 'block',
    failMode: 'closed',
    guardrail: {
      name: 'invalid_rule',
      check: () => ({ verdict: 'block', guardrail: 'invalid_rule', reasons: ['guardrail policy has a rule this gateway cannot read'] }),
    },
  };
}

export function compileRules(config: unknown, deps: CompileDeps, policy: string | undefined, firstIndex: number, problems: string[]): CompiledRule[] {
  const label = policy ? `policy ${policy}` : 'policy';
  if (config === null || config === undefined) return [];
  if (typeof config !== 'object') {
    problems.push(`${label}: config is not an object`);
    return [invalidRule(firstIndex, policy)];
  }
  const rules = (config as { rules?: unknown }).rules;
  if (rules === undefined) return [];
  if (!Array.isArray(rules)) {
    problems.push(`${label}: rules is not a list`);
    return [invalidRule(firstIndex, policy)];
  }
  const out: CompiledRule[] = [];
  rules.forEach((raw, i) => {
    const where = `${label} rule ${i}`;
    const index = firstIndex + i;
    const parsed = Rule.safeParse(raw);
    if (!parsed.success) {
      problems.push(`${where}: ${parsed.error.issues[0]?.message ?? 'invalid'}; it blocks until fixed`);
      out.push(invalidRule(index, policy));
      return;
    }
    const { type, stage, action, options } = parsed.data;
    const failMode = option(options, 'fail_mode', z.enum(['open', 'closed']), problems, where) ?? 'open';
    const roles = option(options, 'roles', z.array(z.string()).max(10), problems, where) ?? DEFAULT_ROLES[type];
    const stages = new Set<Stage>(stage === 'both' ? ['input', 'output'] : [stage]);
    let detector: Detector | undefined;
    let judge: Guardrail | undefined;
    switch (type) {
      case 'pii': {
        const types = option(options, 'types', words, problems, where);
        const unknown = types?.filter((t) => !KNOWN_PII.has(t.toUpperCase())) ?? [];
        if (unknown.length > 0) problems.push(`${where}: unknown PII types ${unknown.join(', ')} are ignored`);
        const known = types?.filter((t) => KNOWN_PII.has(t.toUpperCase()));
        detector = createPiiDetector({ types: known && known.length > 0 ? known : undefined, allow: option(options, 'allow', words, problems, where) });
        break;
      }
      case 'toxicity':
        detector = createToxicityDetector({
          threshold: option(options, 'threshold', z.number().min(0).max(1), problems, where),
          terms: option(options, 'terms', words, problems, where),
        });
        break;
      case 'prompt_injection':
        detector = createInjectionDetector({
          threshold: option(options, 'threshold', z.number().min(0).max(1), problems, where),
          decodeBase64: option(options, 'decode_base64', z.boolean(), problems, where),
        });
        break;
      case 'llm_judge':
        judge = createLlmJudgeGuardrail(deps.judge, {
          action,
          failMode,
          model: option(options, 'model', z.string().min(1).max(256), problems, where),
          prompt: option(options, 'prompt', z.string().min(1).max(20_000).refine((p) => p.includes('{{input}}'), 'must contain {{input}}'), problems, where),
          timeoutMs: option(options, 'timeout_ms', z.number().int().min(50).max(60_000), problems, where),
          maxChars: option(options, 'max_chars', z.number().int().min(100).max(1_000_000), problems, where),
        });
        break;
    }
    const guardrail = detector ? detectorGuardrail(detector, action, failMode) : judge!;
    out.push({ index, policy, type, stages, action, failMode, roles: roles ? new Set(roles) : undefined, detector, guardrail });
  });
  return out;
}
