// Guardrails for the inference gateway: what the hot path imports.
export { compilePolicy, compilePolicies, createPolicyCache, summariseVerdicts } from './policy.js';
export type { ChatMessage, CheckOptions, CompiledPolicy, CompileDeps, InputResult, OutputResult, PolicySource } from './policy.js';
export type { FilterStep, OutputFilter, OutputFilterOptions } from './stream-filter.js';
export type { Detection, Detector, FailMode, Finding, Guardrail, GuardrailContext, GuardrailType, GuardrailVerdict, JudgeFn, RuleAction, Stage } from './types.js';
export { createPiiDetector, findPii, PII_TYPES, type PiiType } from './pii.js';
export { createInjectionDetector, scoreInjection } from './injection.js';
export { createToxicityDetector, scoreToxicity } from './toxicity.js';
export { createLlmJudgeGuardrail, parseJudgeAnswer, DEFAULT_JUDGE_PROMPT } from './llm-judge.js';
export { detectorGuardrail } from './verdict.js';
