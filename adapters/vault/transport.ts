/**
 * The HTTP transport under node-vault: Node's own http/https, handed to node-vault through its
 * `request-promise` option. node-vault still builds every call (address, API version, token
 * header) and reads every answer (its `handleVaultResponse` and error type); this only moves bytes.
 *
 * Why not node-vault's default (axios with follow-redirects): with hundreds of scenarios at once
 * the harness shares the machine with the target, and that stack cost about 2.5 × the CPU of a
 * plain request per call (measured: 330 against 135 µs kept-alive, 470 against 315 µs on a new
 * connection) — CPU the target then lacks.
 *
 * What it keeps of the default: the answer's body is JSON when it parses and the raw text
 * otherwise (so a gateway's HTML page stays visible as not Vault's answer); a 307/308 is
 * followed, up to {@link MAX_REDIRECTS}, with the same method, body and headers, but only to the
 * same origin (the default followed one anywhere, token and all); a call that has no full answer
 * within its timeout fails with `ETIMEDOUT`, whatever trickles in meanwhile.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

const MAX_REDIRECTS = 5;

/** The options node-vault hands its transport, plus this transport's own. */
export interface TransportOptions {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  /** The JSON body. */
  json?: unknown;
  timeout?: number;
  /** A new TCP connection for this call, closed when the answer is in. */
  fresh?: boolean;
  /** Leave from this source address (implies a fresh connection). */
  localAddress?: string;
}

/** What node-vault reads from a transport's answer. */
export interface TransportAnswer {
  statusCode: number;
  body: unknown;
  request: { path: string };
}

/** node-vault's defaults for its transport (`rpDefaults`); only the TLS verification is read here (each call states its timeout). */
interface TransportDefaults {
  strictSSL?: boolean;
}

/** A call that got no full answer: a network error, or none within the timeout. */
class NoAnswer extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Agents for fresh calls: one connection per call, closed after it. Shared, as a new agent per call costs a probe more than its connection. */
const ONE_CALL_EACH = { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) };

/** The object node-vault takes as `request-promise`: `defaults(rpDefaults)` gives the transport. */
export const vaultTransport = {
  defaults(defaults: TransportDefaults): (options: TransportOptions) => Promise<TransportAnswer> {
    const verify = defaults.strictSSL !== false;
    return (options) => send(options, verify, MAX_REDIRECTS);
  },
};

async function send(options: TransportOptions, verify: boolean, redirectsLeft: number): Promise<TransportAnswer> {
  const url = new URL(options.uri);
  const answer = await exchange(url, options, verify);
  const location = answer.location;
  if ((answer.statusCode === 307 || answer.statusCode === 308) && location && redirectsLeft > 0) {
    const next = new URL(location, url);
    // Only where the call was already going: the token rides along, and a redirect elsewhere
    // would hand it to a host the run was never pointed at. Unfollowed, the 307 is the answer,
    // which no probe reads as Vault's.
    if (next.origin === url.origin) return send({ ...options, uri: next.href }, verify, redirectsLeft - 1);
  }
  return { statusCode: answer.statusCode, body: answer.body, request: { path: url.pathname } };
}

function exchange(url: URL, options: TransportOptions, verify: boolean): Promise<{ statusCode: number; body: unknown; location: string | undefined }> {
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') return Promise.reject(new NoAnswer('EPROTO', `unsupported protocol ${url.protocol}`));
  const payload = options.json === undefined ? undefined : Buffer.from(JSON.stringify(options.json));
  const headers: Record<string, string | number> = { Accept: 'application/json', ...options.headers };
  if (payload) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = payload.length;
  }
  const fresh = options.fresh === true || options.localAddress !== undefined;
  // A fresh call says `Connection: close` through an agent that keeps nothing alive: its socket is
  // destroyed when the answer is in, never handed to another call. The others share Node's global
  // agents, as node-vault's default did: kept alive, the most recently used socket first, so the
  // idle ones age out before a server's keep-alive timeout closes them under a reused call.
  if (fresh) headers.Connection = 'close';
  const request: https.RequestOptions = {
    method: options.method,
    headers,
    ...(fresh ? { agent: secure ? ONE_CALL_EACH.https : ONE_CALL_EACH.http } : {}),
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    ...(secure ? { rejectUnauthorized: verify } : {}),
  };
  return new Promise((resolve, reject) => {
    const call = (secure ? https : http).request(url, request, (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', fail);
      response.on('end', () => {
        clearTimeout(timer);
        const location = response.headers.location;
        resolve({ statusCode: response.statusCode ?? 0, body: readBody(Buffer.concat(chunks).toString('utf8')), location });
      });
    });
    const timeoutMs = options.timeout ?? 0;
    const timer =
      timeoutMs > 0 ? setTimeout(() => call.destroy(new NoAnswer('ETIMEDOUT', `no full answer within ${timeoutMs} ms`)), timeoutMs) : undefined;
    function fail(error: Error): void {
      clearTimeout(timer);
      reject(error);
    }
    call.on('error', fail);
    call.end(payload);
  });
}

/** JSON when it parses; the text as it came otherwise (an HTML page, a gateway's words, nothing). */
function readBody(text: string): unknown {
  if (text === '') return '';
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
