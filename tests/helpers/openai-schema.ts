// OpenAI's published API schema (../shared/openai/openapi.yaml, MIT) as a validator, so tests can
// check that what /v1 returns is what the official clients expect.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { load as loadYaml } from 'js-yaml';

const SPEC = fileURLToPath(new URL('../../../shared/openai/openapi.yaml', import.meta.url));

let ajv: Ajv2020 | undefined;

/** The spec mixes OpenAPI 3.0's `nullable` into 3.1 schemas: rewrite it as JSON Schema. */
function denullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(denullable);
  if (!node || typeof node !== 'object') return node;
  const { nullable, ...rest } = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) out[k] = denullable(v);
  if (nullable !== true) return out;
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  if (typeof out.type === 'string') return { ...out, type: [out.type, 'null'] };
  if (Array.isArray(out.type)) return { ...out, type: [...new Set([...(out.type as string[]), 'null'])] };
  return { anyOf: [out, { type: 'null' }] };
}

function load(): Ajv2020 {
  if (ajv) return ajv;
  const spec = loadYaml(readFileSync(SPEC, 'utf8')) as { components: Record<string, unknown> };
  ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true, logger: false });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema({ $id: 'https://inferia.test/openai.json', components: denullable(spec.components) });
  return ajv;
}

/** Errors of `data` against `#/components/schemas/<name>`, or [] when it conforms. */
export function openAiSchemaErrors(name: string, data: unknown): string[] {
  const validate = load().getSchema(`https://inferia.test/openai.json#/components/schemas/${name}`);
  if (!validate) throw new Error(`no schema ${name} in the OpenAI spec`);
  return validate(data) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}
