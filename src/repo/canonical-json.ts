import { canonicalize } from '@tufjs/canonical-json';

/**
 * Canonical JSON (the OLPC dialect TUF signs): object keys sorted by code unit, no whitespace,
 * strings escape only `"` and `\`, integers only. Used for key ids (TUF spec: the key id is the
 * sha256 of the canonical form of the public key). The encoder is @tufjs/canonical-json, the one
 * `Metadata.sign` uses; a value it must not encode (a float, undefined) is refused first by name.
 */
export function canonicalJson(value: unknown): string {
  const bad = findNonCanonical(value);
  if (bad !== undefined)
    throw new TypeError(
      `canonical JSON allows integers only (and no undefined or functions): ${bad} is not one`,
    );
  return canonicalize(value);
}

/** The first offending path in `value` that canonical JSON cannot encode (a float, ...), or undefined. */
export function findNonCanonical(value: unknown, path = '$'): string | undefined {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return undefined;
  if (typeof value === 'number') return Number.isSafeInteger(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findNonCanonical(value[i], `${path}[${i}]`);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const bad = findNonCanonical(v, `${path}.${k}`);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  return path;
}
