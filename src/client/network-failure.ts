import { messageOf } from '../errors.js';

/**
 * What Node's fetch (undici) says when a request never got an answer is "fetch failed"; the reason
 * is in its cause chain, as an errno-style code. This names the reason in words a person can act on
 * (a typo in the host name, a server that is down, a proxy that breaks TLS, a firewall). Pure: it
 * only reads the error.
 */
interface Coded {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly hostname?: unknown;
  readonly cause?: unknown;
  readonly errors?: unknown;
}

/** The first error in the cause chain (and AggregateError members) that carries a string code. */
function codedCause(error: unknown, depth = 0): (Error & Coded) | undefined {
  if (depth > 8 || typeof error !== 'object' || error === null) return undefined;
  const e = error as Error & Coded;
  if (typeof e.code === 'string' && e.code !== '') return e;
  const inner = codedCause(e.cause, depth + 1);
  if (inner !== undefined) return inner;
  if (Array.isArray(e.errors))
    for (const m of e.errors as unknown[]) {
      const found = codedCause(m, depth + 1);
      if (found !== undefined) return found;
    }
  return undefined;
}

const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|EPROTO$)/;
const CERT_CODE = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS_CERT_ALTNAME/;

export function networkFailure(error: unknown): string {
  const c = codedCause(error);
  if (c === undefined) {
    // no code anywhere: the innermost message says the most
    let inner: unknown = error;
    for (let i = 0; i < 8 && inner instanceof Error && inner.cause !== undefined; i++) inner = inner.cause;
    return messageOf(inner);
  }
  const code = c.code as string;
  const detail = messageOf(c);
  if (code === 'ECONNREFUSED')
    return `connection refused (nothing listens there: is the server running, and are host and port right?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_NONAME' || code === 'EAI_NODATA') {
    const host = typeof c.hostname === 'string' ? c.hostname : /ENOTFOUND (\S+)/.exec(detail)?.[1];
    return `host name ${host === undefined ? '' : `${host} `}was not found (DNS): check the host name in the URL`;
  }
  if (code === 'EAI_AGAIN') return `the host name could not be resolved right now (DNS: ${detail})`;
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT')
    return `timed out connecting to the server (${detail}): a firewall, a proxy or the server is down`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENETDOWN')
    return `no route to the server (${code}): is the network up?`;
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET')
    return `the connection was closed by the server or a proxy (${detail})`;
  if (CERT_CODE.test(code))
    return `the server's TLS certificate was not accepted (${detail}): a wrong or expired certificate, or a proxy that intercepts TLS`;
  if (TLS_CODE.test(code))
    return `the TLS handshake failed (${detail}): does the server speak https on that port (http/https mixed up, or a proxy)?`;
  return `${detail} (${code})`;
}
