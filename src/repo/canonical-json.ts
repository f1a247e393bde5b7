/**
 * Canonical JSON (the OLPC dialect TUF signs): object keys sorted by code unit, no whitespace,
 * strings escape only `"` and `\`, integers only. Used for key ids (TUF spec: the key id is the
 * sha256 of the canonical form of the public key); metadata signing itself goes through
 * `Metadata.sign`, which canonicalises the same way.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new TypeError(`canonical JSON allows integers only, got ${value}`);
    }
    return String(value);
  }
  if (typeof value === 'string') return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${canonicalJson(k)}:${canonicalJson(record[k])}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot encode a ${typeof value}`);
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
