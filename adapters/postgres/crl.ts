/**
 * Keeping PostgreSQL's copy of a CA's CRL current: the point of use's own job, never the grant's.
 * A CA revokes a certificate in its own CRL; the database refuses the certificate only once the CRL
 * it reads holds the revocation. So a refresher fetches the CRL from the distribution point the CA
 * names in its certificates, on the schedule the scenario states, and writes it into the server's
 * CRL directory as `<issuer hash>.r0` — or, with no schedule, fetches it once and never again, as a
 * CRL deployed by hand would stay.
 *
 * PostgreSQL reads `ssl_crl_dir` when a connection verifies a certificate (each backend starts with
 * the postmaster's empty lookup cache), so a file replaced in place counts from the next login on:
 * no reload is needed, and none is made (the cluster is shared by concurrent scenarios). The file is
 * written beside and renamed, so a login never reads half of one.
 *
 * Every refresh is evidence: when, the CRL's number, how many certificates it revokes, its own
 * dates. A failed refresh keeps the CRL already there, as a real refresher would, and says why.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { Evidence } from '../../scenarios/evidence.ts';
import { openssl, parseIssuerHash } from './tls.ts';

/** How long one CRL fetch may take before the refresh counts as failed. */
const FETCH_TIMEOUT_MS = 3000;
/** A CRL larger than this is not the scenario's CA's. */
const MAX_CRL_BYTES = 1024 * 1024;

/** What a fetched CRL says of itself, read by openssl. */
export interface CrlFacts {
  issuerHash: string;
  crlNumber: number | null;
  revoked: number;
  lastUpdate: string | null;
  nextUpdate: string | null;
}

/** DER (what OpenBao serves at `<mount>/crl`) or PEM in, PEM out: the form OpenSSL's directory lookup reads. */
export function crlPem(body: Buffer): string {
  const text = body.toString('latin1');
  if (text.includes('-----BEGIN X509 CRL-----')) return text;
  const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN X509 CRL-----\n${lines.join('\n')}\n-----END X509 CRL-----\n`;
}

/** `openssl crl -noout -hash -crlnumber -lastupdate -nextupdate -text` output, read. */
export function parseCrlFacts(output: string): CrlFacts {
  const issuerHash = parseIssuerHash(output);
  if (!issuerHash) throw new Error('openssl stated no issuer hash for the CRL');
  const number = /^crlNumber=(?:0x)?([0-9A-Fa-f]+)$/m.exec(output)?.[1];
  const date = (name: string): string | null => {
    const found = new RegExp(`^${name}=(.+)$`, 'm').exec(output)?.[1];
    const parsed = found ? Date.parse(found) : Number.NaN;
    return Number.isNaN(parsed) ? null : new Date(parsed).toISOString();
  };
  return {
    issuerHash,
    crlNumber: number === undefined ? null : Number.parseInt(number, 16),
    revoked: output.match(/^\s+Serial Number: /gm)?.length ?? 0,
    lastUpdate: date('lastUpdate'),
    nextUpdate: date('nextUpdate'),
  };
}

/** GET the CRL on a connection of its own (no kept-alive socket), 200 only. */
function fetchCrl(url: URL): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    const agent = https ? new HttpsAgent({ keepAlive: false }) : new HttpAgent({ keepAlive: false });
    const req = send(url, { method: 'GET', agent, timeout: FETCH_TIMEOUT_MS, headers: { Connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_CRL_BYTES) req.destroy(new Error(`the CRL is larger than ${MAX_CRL_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode ?? '?'} from ${url.href}`));
        else resolve(Buffer.concat(chunks));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.href} within ${FETCH_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface RefresherOptions {
  /** The CA's CRL distribution point, as its certificates name it. */
  url: string;
  /** The server's `ssl_crl_dir`. */
  dir: string;
  /** Seconds between refreshes; null: the CRL is fetched once and never refreshed. */
  periodSeconds: number | null;
  evidence: Evidence;
  signal: AbortSignal;
}

export interface CrlRefresher {
  url: string;
  /** The CRL file it keeps, `<dir>/<issuer hash>.r0`. */
  file: string;
  /** Stop refreshing and remove the file it wrote. Returns what was removed. */
  stop(): string[];
}

/**
 * Fetch the CRL once (a failure here is the caller's: no login with this CA can be judged without
 * it), then keep refreshing it on the period until stopped.
 */
export async function startCrlRefresher(options: RefresherOptions): Promise<CrlRefresher> {
  const url = new URL(options.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`the CRL distribution point ${options.url} is not an http(s) URL`);

  const fetchOnce = async (): Promise<{ pem: string; facts: CrlFacts; tookMs: number }> => {
    const started = Date.now();
    const pem = crlPem(await fetchCrl(url));
    const facts = parseCrlFacts(await openssl('read the fetched CRL', ['crl', '-noout', '-hash', '-crlnumber', '-lastupdate', '-nextupdate', '-text'], { input: pem }));
    return { pem, facts, tookMs: Date.now() - started };
  };
  const write = (file: string, pem: string): void => {
    // A name OpenSSL's lookup never reads (not `<hash>.r<n>`), and no other refresher's.
    const beside = join(options.dir, `.${randomBytes(8).toString('hex')}.crl`);
    writeFileSync(beside, pem, { mode: 0o644 });
    renameSync(beside, file);
  };
  const record = (what: string, facts: CrlFacts, tookMs: number): void => {
    options.evidence.record(what, { url: options.url, issuerHash: facts.issuerHash, crlNumber: facts.crlNumber, revoked: facts.revoked, lastUpdate: facts.lastUpdate, nextUpdate: facts.nextUpdate, tookMs });
  };

  const first = await fetchOnce();
  const file = join(options.dir, `${first.facts.issuerHash}.r0`);
  // Another CA's CRL (the root's, another scenario's) is never overwritten: its logins would break.
  if (existsSync(file)) throw new Error(`the CRL directory already holds ${file}, for the same issuer hash, written by something else`);
  write(file, first.pem);
  const refresher: CrlRefresher = { url: options.url, file, stop: () => [] };
  record(
    options.periodSeconds === null
      ? 'CRL fetched once at the point of use; it is never refreshed (crlRefreshSeconds: null)'
      : `CRL fetched at the point of use; refreshed every ${options.periodSeconds} s`,
    first.facts,
    first.tookMs,
  );

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const refresh = async (): Promise<void> => {
    const due = Date.now() + (options.periodSeconds ?? 0) * 1000;
    try {
      const next = await fetchOnce();
      if (stopped) return;
      if (next.facts.issuerHash !== first.facts.issuerHash) throw new Error(`the distribution point now serves a CRL of another issuer (hash ${next.facts.issuerHash}, was ${first.facts.issuerHash})`);
      write(file, next.pem);
      record('CRL refreshed at the point of use', next.facts, next.tookMs);
    } catch (error) {
      if (!stopped) options.evidence.record(`CRL refresh failed at the point of use; the CRL already there stays: ${(error as Error).message}`, { url: options.url });
    }
    // The next refresh is due a period after this one began, not after it ended: the schedule holds.
    if (!stopped) schedule(Math.max(0, due - Date.now()));
  };
  const schedule = (ms: number): void => {
    timer = setTimeout(() => void refresh(), ms);
    // The scenario's own work keeps the process alive; a refresher left behind must not.
    timer.unref();
  };
  const halt = (): void => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
  options.signal.addEventListener('abort', halt, { once: true });
  if (options.periodSeconds !== null) schedule(options.periodSeconds * 1000);

  refresher.stop = () => {
    halt();
    options.signal.removeEventListener('abort', halt);
    if (!existsSync(file)) return [];
    rmSync(file, { force: true });
    return [`CRL file ${file} (issuer hash ${first.facts.issuerHash})`];
  };
  return refresher;
}
