/**
 * Reading PostgreSQL's answers as tri-state probes. Only the server's own error counts: an
 * ErrorResponse it sent, which node-postgres raises as a DatabaseError carrying its SQLSTATE. The
 * code decides; the message is recorded, never parsed.
 *
 * A probe of a credential (a new connection: log in, SELECT from the table, close) is `denied` on:
 * - 28P01 invalid_password: the password is refused. PostgreSQL answers the same for a role that
 *   no longer exists and for one past its VALID UNTIL (SCRAM runs a mock exchange so that the
 *   three cannot be told apart), so a dropped or expired login is denied here too;
 * - 28000 invalid_authorization_specification: the role may not log in (NOLOGIN), or no pg_hba
 *   line admits it;
 * - 42501 insufficient_privilege: logged in, but the read is refused (the membership or the
 *   grant is gone).
 * Everything else is `unknown`: a refused or reset connection, a timeout, a TLS failure, an error
 * node-postgres raises itself, 57P0x (the server shutting down or starting up, a backend ended),
 * 53xxx (too many connections, out of memory or disk), 3D000 (no such database), 42P01 (the table
 * is gone: that is the resource, not the credential) and every other SQLSTATE. A read answered
 * with no row is `unknown` as well: row-level security or an emptied table hides whether the
 * privilege held.
 *
 * A login from another source address (a login bound to its context tried from elsewhere, through
 * a loopback relay) is `denied` on 28000 alone: pg_hba.conf rejecting the address ("pg_hba.conf
 * rejects connection", "no pg_hba.conf entry"). A 28P01 or 42501 there is `unknown`: it says the
 * login or its grant is gone, not that the address was refused; a 28000 for a login that may no
 * longer log in at all is told apart by the login from the bound address right after
 * (scenarios/drift.ts).
 *
 * A probe of a client certificate (`cert-login`: a new TLS connection presenting it, log in, read)
 * is `denied` on the same SQLSTATEs — 28000 above is also PostgreSQL's "certificate authentication
 * failed" (the CN is not the role) — and on the TLS alerts with which the server itself refuses the
 * certificate during the handshake, as OpenSSL raises an alert received from the peer:
 * - certificate_revoked (44): the certificate is on a CRL the server holds;
 * - certificate_expired (45): the certificate, or a CRL on its chain, is past its validity;
 * - unknown_ca (48): the server does not trust the certificate's issuer (a self-signed
 *   certificate, a CA it was never given), or holds no CRL for a CA on its chain.
 * Every other TLS failure is `unknown`: one the client raises itself (the server's certificate
 * not trusted, a host name mismatch), another alert, a connection reset during the handshake.
 *
 * A session opened during use and held across the end is judged on its own connection, never
 * reopened (sessions.ts). It is `allowed` while it still runs statements, even when its table read
 * is refused: PostgreSQL checks privileges per statement, and a backend whose role lost its
 * membership or was dropped keeps running. It is `denied` only when the server ended it:
 * - FATAL 57P01 admin_shutdown ("terminating connection due to administrator command":
 *   pg_terminate_backend, which is how a revocation ends a login's sessions);
 * - FATAL 57P05 idle_session_timeout or 25P03 idle_in_transaction_session_timeout: the server's
 *   own limit ended it;
 * - the server closing the socket (the stream ends) without a word.
 * Any other FATAL (57P02 crash_shutdown, 57P03 cannot_connect_now…) and a reset, a timeout or a
 * client-side failure are `unknown`: the connection is gone, but that says nothing about the grant.
 */
import pg from 'pg';
import type { ProbeResult } from '../contract.ts';
import { type FailureReading, probeWith } from '../probe-shell.ts';

/** Condition names of the SQLSTATEs a reader of the evidence meets here (PostgreSQL Appendix A). */
const CONDITIONS: Record<string, string> = {
  '28P01': 'invalid_password',
  '28000': 'invalid_authorization_specification',
  '42501': 'insufficient_privilege',
  '42P01': 'undefined_table',
  '42704': 'undefined_object',
  '3D000': 'invalid_catalog_name',
  '25P03': 'idle_in_transaction_session_timeout',
  '53000': 'insufficient_resources',
  '53100': 'disk_full',
  '53200': 'out_of_memory',
  '53300': 'too_many_connections',
  '57014': 'query_canceled',
  '57P01': 'admin_shutdown',
  '57P02': 'crash_shutdown',
  '57P03': 'cannot_connect_now',
  '57P04': 'database_dropped',
  '57P05': 'idle_session_timeout',
  XX000: 'internal_error',
};

/** The answers that refuse a credential (see the header). */
const DENIED = new Set(['28P01', '28000', '42501']);

/** The FATALs with which the server itself ends a held session (see the header). */
const SESSION_ENDED = new Set(['57P01', '57P05', '25P03']);

export type PgAnswer =
  | { kind: 'server'; code: string; severity: string; text: string }
  | { kind: 'no-answer'; code?: string; text: string };

/** What went wrong, as data: the server's own error with its SQLSTATE, or no answer from the server at all. */
export function describePgError(error: unknown): PgAnswer {
  if (error instanceof pg.DatabaseError && typeof error.code === 'string' && /^[0-9A-Z]{5}$/.test(error.code)) {
    const severity = error.severity ?? 'ERROR';
    const condition = CONDITIONS[error.code];
    return { kind: 'server', code: error.code, severity, text: `${severity} ${error.code}${condition ? ` ${condition}` : ''}: ${error.message}` };
  }
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = e && typeof e.code === 'string' ? e.code : undefined;
  const message = e && typeof e.message === 'string' ? e.message.replace(/\s*\n\s*/g, ' | ').trim() : String(error);
  const text = code ? `${code}${message && !message.includes(code) ? `: ${message}` : ''}` : message || 'unknown error';
  return code ? { kind: 'no-answer', code, text } : { kind: 'no-answer', text };
}

export function pgErrorText(error: unknown): string {
  return describePgError(error).text;
}

/** A failed login or read as a probe's failure: the server's own refusal is `denied`, anything else `unknown`. */
export function readFailure(error: unknown): FailureReading {
  if (error instanceof NoRow) return { outcome: 'unknown', detail: error.message };
  const answer = describePgError(error);
  if (answer.kind === 'no-answer') return { outcome: 'unknown', detail: `no answer: ${answer.text}` };
  if (DENIED.has(answer.code)) return { outcome: 'denied', detail: answer.text };
  return { outcome: 'unknown', detail: `unrecognised answer: ${answer.text}` };
}

/** A failed login from another source address: refused only by pg_hba.conf (see the header). */
export function readContextFailure(error: unknown): FailureReading {
  const reading = readFailure(error);
  const answer = describePgError(error);
  if (reading.outcome === 'denied' && answer.kind === 'server' && answer.code !== CONTEXT_REFUSED) {
    return { outcome: 'unknown', detail: `not a refusal of the address: ${answer.text}` };
  }
  return reading;
}

/** invalid_authorization_specification: what pg_hba.conf answers an address it rejects or does not name. */
const CONTEXT_REFUSED = '28000';

interface CertificateRefusal {
  /** The alert's number on the wire. */
  alert: number;
  /** OpenSSL's reason for an alert received from the peer (as opposed to one it sent). */
  reason: string;
  detail: string;
}

/** The alerts by which the server refuses a client certificate (see the header), by Node's code for the error. */
const CERTIFICATE_REFUSALS: Record<string, CertificateRefusal> = {
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED: {
    alert: 44,
    reason: 'sslv3 alert certificate revoked',
    detail: 'TLS alert certificate_revoked (44) from the server: the certificate is on a CRL it holds',
  },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: {
    alert: 45,
    reason: 'sslv3 alert certificate expired',
    detail: 'TLS alert certificate_expired (45) from the server: the certificate, or a CRL on its chain, is past its validity',
  },
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: {
    alert: 48,
    reason: 'tlsv1 alert unknown ca',
    detail: "TLS alert unknown_ca (48) from the server: it does not trust the certificate's issuer, or holds no CRL for a CA on its chain",
  },
};

/**
 * A failed certificate login or read: the server's TLS refusal of the certificate, else as
 * {@link readFailure}. An alert counts only as OpenSSL raises one received from the peer — its
 * code, its reason and its number together — never from a code alone.
 */
export function readCertificateFailure(error: unknown): FailureReading {
  const e = error as { code?: unknown; reason?: unknown; message?: unknown } | null;
  const refusal = e && typeof e.code === 'string' && !(error instanceof pg.DatabaseError) ? CERTIFICATE_REFUSALS[e.code] : undefined;
  if (refusal && e?.reason === refusal.reason && typeof e.message === 'string' && new RegExp(`SSL alert number ${refusal.alert}(?!\\d)`).test(e.message)) {
    return { outcome: 'denied', detail: refusal.detail };
  }
  return readFailure(error);
}

export function classifyPgError(error: unknown, at = new Date()): ProbeResult {
  return { ...readFailure(error), at: at.toISOString() };
}

/** A read the server answered without a row: it proves neither the privilege nor its absence. */
class NoRow extends Error {
  override name = 'NoRow';
}

/** SELECT the table on a connected client; the detail says how many rows, never what they hold. */
export async function selectRows(client: pg.Client, table: string): Promise<string> {
  const result = await client.query(`SELECT * FROM ${table}`);
  const rows = result.rowCount ?? result.rows.length;
  if (rows === 0) throw new NoRow(`${table} answered with no row and no error: row-level security or an emptied table hides whether the read is allowed`);
  return `read ${rows} row${rows === 1 ? '' : 's'} of ${table}`;
}

/** Log in on the NEW connection `client`, read the table, and close it whatever happened. */
export async function loginAndRead(client: pg.Client, user: string, table: string, read: (error: unknown) => FailureReading = readFailure, how = ''): Promise<ProbeResult> {
  // The server may end the connection after answering (a terminate, a shutdown): an 'error'
  // event nobody listens to would bring the whole run down.
  client.on('error', () => undefined);
  try {
    return await probeWith(async () => {
      await client.connect();
      return `logged in as ${user}${how}, ${await selectRows(client, table)}`;
    }, read);
  } finally {
    await closeClient(client);
  }
}

/** How long closing a probe's connection may take: the probe's answer is in, only the socket is left. */
const CLOSE_WAIT_MS = 1000;

/**
 * End a probe's client without letting the close hold the probe up. After a TLS handshake the
 * server refused, the TLS socket is already destroyed and node-postgres never hears its plain
 * socket close (the TLS socket took it over): `end()` would wait forever for an event that never
 * comes. Any other close is waited for at most {@link CLOSE_WAIT_MS}.
 */
export async function closeClient(client: pg.Client): Promise<void> {
  const ending = client.end().catch(() => undefined);
  if (client.connection.stream.destroyed) return;
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLOSE_WAIT_MS);
    timer.unref();
  });
  await Promise.race([ending, waited]);
  clearTimeout(timer);
}

/** How a held session's connection ended, as its listeners saw it (sessions.ts). */
export interface SessionEnd {
  /** The FATAL the server sent before the end, if any. */
  fatal: { code: string; text: string } | null;
  /** A failure of the connection itself (a reset, a timeout, TLS): not the server's word. */
  transport: string | null;
}

/** Whether a held session the server is no longer talking to was ended by the server (see the header). */
export function classifySessionEnd(end: SessionEnd, at = new Date()): ProbeResult {
  const iso = at.toISOString();
  if (end.fatal && SESSION_ENDED.has(end.fatal.code)) return { outcome: 'denied', at: iso, detail: `the server ended the session: ${end.fatal.text}` };
  if (end.fatal) return { outcome: 'unknown', at: iso, detail: `the server ended the session with ${end.fatal.text}: a fault, which says nothing about the grant` };
  if (end.transport) return { outcome: 'unknown', at: iso, detail: `the session's connection failed (${end.transport}): whether the server ended it is not known` };
  return { outcome: 'denied', at: iso, detail: "the server closed the session's connection" };
}
