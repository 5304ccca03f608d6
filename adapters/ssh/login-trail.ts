/**
 * The using side of an SSH certificate's `audit-trail`: what the sshd's own log (LogLevel VERBOSE,
 * the local target's log file) holds of the certificate, as separate records, found by its serial
 * (the issue is the CA's to log: OpenBao's audit log, adapters/vault/grants/ssh-certificate-trail.ts):
 *
 * - **use**: `Accepted publickey for <user> from <addr> port <p> ssh2: … ID <key id> (serial <n>) CA …`,
 *   one line per login with the certificate; each names the connection by its client port.
 * - **end**: a certificate is never revoked (its CA cannot), so what stands for its end is what
 *   sshd logs when it ends: for every connection that logged in with it, sshd's record that the
 *   connection ended (`Disconnected from user`, `Connection closed by`, `terminating inactive
 *   connection`, …) or, where it wrote none, that every session it started there closed (`Close
 *   session`, at least one), before residue was read — a connection closed only at teardown is
 *   the harness cleaning up, not the grant ending — and a later login with it refused as expired
 *   (`Certificate invalid: expired` in that connection's lines, then `Failed publickey … (serial
 *   <n>)`). The reuse probes after the end make that login; without it the log cannot show that
 *   sshd stopped taking the certificate.
 *
 * A connection's end may be read from its sessions rather than from the connection: one ended by
 * a signal, as the hardened profile's session limit ends it, leaves no line of its own (measured
 * on OpenSSH 9.2), only its sessions' `Close session`. Whether the connection is still served is
 * read on the server (`no-residue`).
 *
 * sshd -e writes no time and no pid on a line: order is the byte offset, and the reason of a
 * refusal is read from the `Certificate invalid:` lines between its connection's first line and
 * its `Failed publickey` line. Concurrent logins may interleave there, so another connection's
 * `expired` can be taken for this one's; the login was refused all the same.
 *
 * A missing record is `fail`, naming which; a log that cannot be read is `inconclusive`. An
 * external sshd's log is not jitc's to read: the check is not evidenced there, and the evidence
 * says so.
 */
import type { ScenarioContext } from '../contract.ts';
import { type LogLine, linesSince, logEnd } from '../log-lines.ts';
import type { SshClient } from './client.ts';

type Ctx = ScenarioContext<unknown, SshClient>;

const KEY = {
  start: 'loginTrailStart',
  unreadable: 'loginTrailUnreadable',
  used: 'loginTrailUsed',
  residueRead: 'loginTrailResidueRead',
} as const;

/** Note where sshd's log ends now: only what follows is this scenario's. Call before the grant. */
export async function openLoginTrail(ctx: Ctx): Promise<void> {
  const local = ctx.client.local;
  if (!local) {
    // The marker the reports show per control as a gap (reports/writers/summary.ts).
    ctx.evidence.record("audit-trail not evidenced on this target for the certificate's use and end: an external sshd's log is not readable by jitc", { notEvidenced: 'audit-trail' });
    return;
  }
  try {
    const start = await logEnd(local.logFile);
    ctx.state.set(KEY.start, start);
    ctx.evidence.record(`sshd's log read from ${local.logFile} from byte ${start}`, { log: local.logFile, offset: start });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    ctx.state.set(KEY.unreadable, why);
    ctx.evidence.record(`sshd's log could not be opened: ${why}`);
  }
}

/** The certificate logged in for the task: its use and end are then looked for. */
export function rememberLogin(ctx: Ctx, certificate: { serial: string; keyId: string }): void {
  if (!ctx.state.has(KEY.used)) ctx.state.set(KEY.used, certificate);
}

/** What reaches the resource was read (residue): a connection's end logged after this is teardown's. */
export async function markResidueRead(ctx: Ctx): Promise<void> {
  const local = ctx.client.local;
  if (!local || !ctx.state.has(KEY.used) || !ctx.state.has(KEY.start)) return;
  try {
    ctx.state.set(KEY.residueRead, await logEnd(local.logFile));
  } catch (error) {
    ctx.state.set(KEY.unreadable, error instanceof Error ? error.message : String(error));
  }
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** What sshd says when one of its connections ends, whoever ended it. */
const CONNECTION_END = /^(Disconnected from user \S+|Received disconnect from|Connection closed by|Connection reset by|terminating inactive connection from user \S+|Timeout, client not responding from user \S+|Disconnecting user \S+) \S+ port (\d+)\b/;

const SESSION_START = /^Starting session: .* for \S+ from \S+ port (\d+) id (\d+)$/;
const SESSION_CLOSE = /^Close session: user \S+ from \S+ port (\d+) id (\d+)$/;

export interface LoginTrail {
  /** Each login with the certificate, by client port. */
  logins: { port: number; line: LogLine }[];
  /** Each of those connections' end, where logged before `endBy`: its own end, or the close of the last of its sessions. */
  ended: Map<number, { line: LogLine; by: 'connection' | 'sessions' }>;
  /** A login with the certificate refused as expired. */
  refusedExpired?: LogLine;
  /** Logins with it refused for another reason (or none given), for the evidence. */
  refusedOtherwise: { line: LogLine; reasons: string[] }[];
}

/** Find the certificate's records among `lines`. `endBy`: the offset a connection's end must come before. */
export function loginTrailOf(lines: readonly LogLine[], serial: string, endBy: number): LoginTrail {
  const accepted = new RegExp(`^Accepted publickey for \\S+ from \\S+ port (\\d+) ssh2: .* \\(serial ${escape(serial)}\\) CA `);
  const failed = new RegExp(`^Failed publickey for \\S+ from (\\S+) port (\\d+) ssh2: .* \\(serial ${escape(serial)}\\) CA `);
  const trail: LoginTrail = { logins: [], ended: new Map(), refusedOtherwise: [] };
  for (const [i, line] of lines.entries()) {
    const login = accepted.exec(line.text);
    if (login) {
      trail.logins.push({ port: Number(login[1]), line });
      continue;
    }
    const refusal = failed.exec(line.text);
    if (!refusal) continue;
    const opened = `Connection from ${refusal[1]} port ${refusal[2]} `;
    let first = i;
    while (first > 0 && !lines[first]!.text.startsWith(opened)) first -= 1;
    const reasons = lines
      .slice(first, i)
      .map((l) => /^Certificate invalid: (.*)$/.exec(l.text)?.[1])
      .filter((r): r is string => r !== undefined);
    if (reasons.includes('expired')) trail.refusedExpired ??= line;
    else trail.refusedOtherwise.push({ line, reasons });
  }
  for (const { port, line: login } of trail.logins) {
    // Only after that connection's login: a port reused by an earlier connection says nothing of it.
    const after = lines.filter((l) => l.at > login.at && l.at < endBy);
    const end = after.find((l) => Number(CONNECTION_END.exec(l.text)?.[2]) === port);
    if (end) {
      trail.ended.set(port, { line: end, by: 'connection' });
      continue;
    }
    const open = new Map<string, number>();
    let lastClose: LogLine | undefined;
    for (const l of after) {
      const started = SESSION_START.exec(l.text);
      if (started && Number(started[1]) === port) open.set(started[2]!, (open.get(started[2]!) ?? 0) + 1);
      const closed = SESSION_CLOSE.exec(l.text);
      if (closed && Number(closed[1]) === port) {
        open.set(closed[2]!, (open.get(closed[2]!) ?? 0) - 1);
        lastClose = l;
      }
    }
    if (lastClose && open.size > 0 && [...open.values()].every((n) => n <= 0)) trail.ended.set(port, { line: lastClose, by: 'sessions' });
  }
  return trail;
}

/** Judge the certificate's use and end in sshd's log. */
export async function judgeLoginTrail(ctx: Ctx): Promise<void> {
  const local = ctx.client.local;
  const unreadable = ctx.state.get(KEY.unreadable) as string | undefined;
  if (unreadable !== undefined) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `sshd's log could not be read: ${unreadable}` });
    return;
  }
  const start = ctx.state.get(KEY.start) as number | undefined;
  if (!local || start === undefined) return;
  const used = ctx.state.get(KEY.used) as { serial: string; keyId: string } | undefined;
  if (!used) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: 'the certificate never logged in for the task, so its use and end were not looked for in sshd\'s log' });
    return;
  }
  const endBy = ctx.state.get(KEY.residueRead) as number | undefined;
  if (endBy === undefined) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: "the lifecycle stopped before residue was read, so the certificate's end was not looked for in sshd's log" });
    return;
  }
  let lines: LogLine[];
  try {
    ({ lines } = await linesSince(local.logFile, start, "sshd's log"));
  } catch (error) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `sshd's log could not be read: ${error instanceof Error ? error.message : String(error)}` });
    return;
  }
  const trail = loginTrailOf(lines, used.serial, endBy);
  const who = `certificate serial ${used.serial} (key id ${used.keyId})`;
  const found: string[] = [];
  const missing: string[] = [];
  if (trail.logins.length > 0) found.push(...trail.logins.map((l) => `use: login from port ${l.port}`));
  else missing.push(`use (no accepted login naming ${who})`);
  for (const { port } of trail.logins) {
    const end = trail.ended.get(port);
    if (end?.by === 'connection') found.push(`end of the connection from port ${port}: ${end.line.text}`);
    else if (end) found.push(`end of the sessions on the connection from port ${port} (every session started there closed; the connection's own end is not logged): ${end.line.text}`);
    else missing.push(`end of the connection from port ${port} (nothing recording it or all its sessions ended before residue was read)`);
  }
  if (trail.refusedExpired) found.push(`end: a login refused as expired: ${trail.refusedExpired.text.split(' ssh2:')[0]}`);
  else missing.push(`end (no login with ${who} refused as expired${trail.refusedOtherwise.length > 0 ? `; ${trail.refusedOtherwise.length} refused for: ${[...new Set(trail.refusedOtherwise.flatMap((r) => r.reasons))].join(', ') || 'no reason logged'}` : ''})`);
  ctx.evidence.record(`sshd's records of the certificate in ${local.logFile}`, { log: local.logFile, serial: used.serial, keyId: used.keyId, found, missing });
  ctx.report(
    missing.length === 0
      ? { check: 'audit-trail', verdict: 'pass', detail: `sshd's log records the ${who}: ${found.join('; ')}` }
      : { check: 'audit-trail', verdict: 'fail', detail: `missing from sshd's log: ${missing.join('; ')}${found.length > 0 ? `; found ${found.join('; ')}` : ''}` },
  );
}
