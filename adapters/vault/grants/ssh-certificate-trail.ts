/**
 * The issuing side of an SSH certificate's `audit-trail`: the record OpenBao's own audit log holds
 * of the request that signed it. The log (audit-log.ts) writes a request and a response line for
 * `<mount>/issue/<role>`; every value of the response is an HMAC, its `serial_number` (the
 * certificate's serial in hex, as the engine answers it) among them. The device's HMAC of the
 * serial the grant was handed (`sys/audit-hash`) finds the response that signed this certificate
 * and no other: a public value, so nothing secret is hashed or compared.
 *
 * The certificate's use and end are not OpenBao's to log: it never sees the certificate again
 * (it keeps no record of it, cannot revoke it). The sshd's log holds them, and the ssh point of
 * use judges them (adapters/ssh/login-trail.ts) under the same check: the engine keeps the worse
 * of the two verdicts, each naming what it missed.
 *
 * Where the target names no audit log (an external OpenBao without `vault.auditLog`) the issue is
 * not evidenced on this target, and the evidence says so; jitc never enables an audit device.
 */
import { AuditCursor, auditHash, auditTrailOf, evidenceOf } from '../audit-log.ts';
import type { VaultGrantContext } from '../extension.ts';
import { readRefusal } from '../probes.ts';

const KEY = {
  cursor: 'signingTrailCursor',
  unreadable: 'signingTrailUnreadable',
  signed: 'signedCertificate',
} as const;

interface Signed {
  /** The path the certificate was signed on. */
  path: string;
  /** Its serial as the engine answered it: hex, as the response (and so the log) carries it. */
  serialHex: string;
  /** Its serial as sshd writes it: decimal. */
  serial: string;
}

/** Note where the log ends now, watching the signing path. Call before the certificate is asked for. */
export async function openSigningTrail(ctx: VaultGrantContext, signingPath: string): Promise<void> {
  const trail = auditTrailOf(ctx.connection);
  if (!trail) {
    // The marker the reports show per control as a gap (reports/writers/summary.ts).
    ctx.evidence.record('audit-trail not evidenced on this target for the certificate\'s issue: no OpenBao audit log is named (vault.auditLog), so the request that signed it cannot be found', {
      notEvidenced: 'audit-trail',
    });
    return;
  }
  try {
    const cursor = await AuditCursor.open(trail, signingPath);
    ctx.state.set(KEY.cursor, cursor);
    ctx.evidence.record(`audit trail of the signing read from ${trail.log} (device ${trail.device}/) from byte ${cursor.offset}`, { log: trail.log, device: trail.device, offset: cursor.offset, path: signingPath });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    ctx.state.set(KEY.unreadable, why);
    ctx.evidence.record(`the audit trail of the signing could not be opened: ${why}`);
  }
}

/** The certificate the grant was handed: whose signing is looked for. */
export function rememberSigned(ctx: VaultGrantContext, signed: Signed): void {
  ctx.state.set(KEY.signed, signed);
}

/** Judge the issue record, then let the log go. A missing record is `fail`, a log that cannot be read `inconclusive`. */
export async function judgeSigningTrail(ctx: VaultGrantContext): Promise<void> {
  const cursor = ctx.state.get(KEY.cursor) as AuditCursor | undefined;
  try {
    const unreadable = ctx.state.get(KEY.unreadable) as string | undefined;
    if (unreadable !== undefined) {
      ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `OpenBao's audit log could not be read: ${unreadable}` });
      return;
    }
    if (!cursor) return;
    const signed = ctx.state.get(KEY.signed) as Signed | undefined;
    // No certificate, no grant to look for: the lifecycle's own checks say why.
    if (!signed) return;
    let serials: Set<string>;
    try {
      // The serial in clear too, compared in memory: a device that logs raw writes it as it is.
      serials = new Set([signed.serialHex, await auditHash(ctx.client.api, cursor.trail.device, signed.serialHex)]);
      await cursor.read();
    } catch (error) {
      ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `the signing's record could not be looked for in ${cursor.trail.log}: ${readRefusal(error).detail}` });
      return;
    }
    const issue = cursor.entries.find((e) => e.type === 'response' && e.path === signed.path && e.error === '' && e.signedSerial !== undefined && serials.has(e.signedSerial));
    ctx.evidence.record(`audit record of the certificate's signing in ${cursor.trail.log} (device ${cursor.trail.device}/)`, {
      log: cursor.trail.log,
      serial: signed.serial,
      found: issue ? [{ record: 'issue', ...evidenceOf(issue) }] : [],
      missing: issue ? [] : ['issue'],
    });
    ctx.report(
      issue
        ? { check: 'audit-trail', verdict: 'pass', detail: `${cursor.trail.log} records the certificate's issue (serial ${signed.serial}): ${issue.type} ${issue.operation} ${issue.path} at ${issue.time}` }
        : { check: 'audit-trail', verdict: 'fail', detail: `missing from ${cursor.trail.log}: issue (no response of ${signed.path} carrying the serial ${signed.serialHex} of certificate serial ${signed.serial})` },
    );
  } finally {
    cursor?.close();
  }
}
