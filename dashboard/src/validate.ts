// Form checks that mirror the gateways' schemas, so a person sees what to fix before anything is
// sent. The gateways check again; these only save a round trip. Each returns a message or null.

export type Check = (value: string) => string | null;

export const required: Check = (v) => (v.trim() ? null : 'Required.');

export const maxLength =
  (n: number): Check =>
  (v) =>
    v.length > n ? `At most ${n} characters.` : null;

export const email: Check = (v) => (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v.trim()) ? null : 'Enter an e-mail address.');

export const totpCode: Check = (v) => (/^\d{6}$/.test(v.trim()) ? null : 'Six digits from your authenticator app.');

export const newPassword: Check = (v) => (v.length < 12 ? 'At least 12 characters.' : v.length > 1024 ? 'At most 1024 characters.' : null);

/** Whole number in [min, max]; empty passes when `optional`. */
export const integer =
  (min: number, max: number, optional = false): Check =>
  (v) => {
    if (!v.trim()) return optional ? null : 'Required.';
    if (!/^-?\d+$/.test(v.trim())) return 'A whole number.';
    const n = Number(v);
    return n < min || n > max ? `Between ${min} and ${max}.` : null;
  };

export const decimal =
  (min: number, max: number, optional = false): Check =>
  (v) => {
    if (!v.trim()) return optional ? null : 'Required.';
    const n = Number(v);
    return Number.isFinite(n) && n >= min && n <= max ? null : `A number between ${min} and ${max}.`;
  };

/** As the model registry requires. */
export const modelName: Check = (v) =>
  !v.trim() ? 'Required.' : /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/.test(v.trim()) ? (v.length > 200 ? 'At most 200 characters.' : null) : 'Letters, digits and . _ : / - only, starting with a letter or digit.';

export const groupName: Check = (v) => (!v.trim() ? 'Required.' : /^[A-Za-z0-9._-]+$/.test(v.trim()) ? null : 'Letters, digits and . _ - only.');

export const httpUrl =
  (optional = false): Check =>
  (v) => {
    if (!v.trim()) return optional ? null : 'Required.';
    try {
      const u = new URL(v.trim());
      return u.protocol === 'http:' || u.protocol === 'https:' ? null : 'An http(s) URL.';
    } catch {
      return 'An http(s) URL.';
    }
  };

/** A JSON object (or empty, which means `{}`). */
export const jsonObject: Check = (v) => {
  if (!v.trim()) return null;
  try {
    const parsed: unknown = JSON.parse(v);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? null : 'A JSON object, e.g. {"key": "value"}.';
  } catch (err) {
    return `Not valid JSON: ${(err as Error).message}`;
  }
};

export const futureDate: Check = (v) => {
  if (!v.trim()) return null;
  const t = new Date(v).getTime();
  if (Number.isNaN(t)) return 'A date and time.';
  return t <= Date.now() ? 'Must be in the future.' : null;
};

/** Comma- or newline-separated names, trimmed, without empties or duplicates. */
export function splitList(v: string): string[] {
  return [
    ...new Set(
      v
        .split(/[,\n]/)
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
}

/** Runs every check of every field: `{field: message}` for those that fail. */
export function validate<K extends string>(values: Record<K, string>, checks: Partial<Record<K, Check[]>>): Partial<Record<K, string>> {
  const errors: Partial<Record<K, string>> = {};
  for (const field of Object.keys(checks) as K[]) {
    for (const check of checks[field] ?? []) {
      const message = check(values[field] ?? '');
      if (message) {
        errors[field] = message;
        break;
      }
    }
  }
  return errors;
}

export const hasErrors = (errors: object) => Object.keys(errors).length > 0;
