/**
 * What the `kv-secret` point of use knows of a scenario's tokens, and what it reads from the
 * target's own audit trail (audit-log.ts):
 *
 * - **residue from lineage**: the tokens the point was handed (the grant's, a child, a login, what
 *   a holder minted: every Vault token it was asked to use or probe), each looked up by accessor,
 *   and — where the log is readable — the tokens those led to and every token issued since setup
 *   carrying the read policy. A token is residue while it lives and carries that policy (directly
 *   or through its identity). Nothing here lists the target's tokens: the requests a scenario
 *   makes do not depend on how many unrelated tokens the target holds.
 * - **the `audit-trail` check**: the grant's token has an issue, a use and an end record.
 *
 * Without a readable log the check is not emitted: the evidence says it is not evidenced on this
 * target, and residue is read from the known accessors alone (the evidence says what was searched).
 */
import { effectivePolicies, lookupAccessor } from './client.ts';
import { type AuditEntry, AuditCursor, type AuditTrail, auditHash, auditTrailOf, evidenceOf, lineageOf, trailOf } from './audit-log.ts';
import { taskSecretPath, type VaultContext } from './fixtures.ts';
import { GONE, readRefusal, saysGone } from './probes.ts';
import type { VaultToken } from './tokens.ts';

/** The point's own state, between phases. */
const KEY = {
  cursor: 'auditCursor',
  unreadable: 'auditUnreadable',
  handed: 'handedAccessors',
  grant: 'grantToken',
  residueRead: 'residueReadAt',
  hmacOnly: 'lineageHmacOnly',
  hashed: 'hashedAccessors',
  worked: 'grantWorked',
} as const;

/** The device a scenario's point names instead of the target's own (a broken deployment's), or the target's. */
async function trailFor(ctx: VaultContext, device: string | undefined): Promise<AuditTrail | undefined> {
  const own = auditTrailOf(ctx.connection);
  if (device === undefined || device === own?.device) return own;
  // The log of another device is where the target says that device writes.
  const devices = await ctx.client.api.call<Record<string, { type?: string; options?: Record<string, string> | null } | undefined>>('GET', 'sys/audit');
  const found = devices[`${device}/`];
  if (!found) throw new Error(`the target has no audit device ${device}/`);
  return { log: found.options?.file_path ?? '', device };
}

/** Note where the log ends now: the scenario reads only what is appended after this. Call before anything is created. */
export async function openTrail(ctx: VaultContext, device?: string): Promise<void> {
  let trail: AuditTrail | undefined;
  try {
    trail = await trailFor(ctx, device);
    if (!trail) {
      // The marker the reports show per control as a gap (reports/writers/summary.ts).
      ctx.evidence.record('audit-trail not evidenced on this target: no audit log is named (vault.auditLog); residue is read from the accessors the scenario was handed, without lineage', {
        notEvidenced: 'audit-trail',
      });
      return;
    }
    if (trail.log === 'discard') {
      ctx.evidence.record(`the audit device ${trail.device}/ discards what it is sent: the target keeps no trail of this scenario`, { device: trail.device });
      ctx.state.set(KEY.cursor, 'discard');
      return;
    }
    const cursor = await AuditCursor.open(trail, taskSecretPath(ctx));
    ctx.state.set(KEY.cursor, cursor);
    ctx.evidence.record(`audit trail read from ${trail.log} (device ${trail.device}/) from byte ${cursor.offset}; residue is read from lineage there`, { log: trail.log, device: trail.device, offset: cursor.offset });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    ctx.state.set(KEY.unreadable, why);
    ctx.evidence.record(`the audit trail could not be opened: ${why}`);
  }
}

function cursorOf(ctx: VaultContext): AuditCursor | 'discard' | undefined {
  return ctx.state.get(KEY.cursor) as AuditCursor | 'discard' | undefined;
}

/** Remember the token the task used: the grant's own, whose trail is judged. */
export function rememberGrant(ctx: VaultContext, token: VaultToken): void {
  if (!ctx.state.has(KEY.grant)) ctx.state.set(KEY.grant, token);
  rememberHanded(ctx, token);
}

/** The grant's token read the secret for the task: only then is there a use to find, and an end to look for. */
export function rememberGrantWorked(ctx: VaultContext): void {
  ctx.state.set(KEY.worked, true);
}

/** Remember a token the point was handed (to use, or to probe after the end): what reaches the resource is read from it. */
export function rememberHanded(ctx: VaultContext, token: VaultToken): void {
  if (token.accessor === '') return;
  const handed = (ctx.state.get(KEY.handed) as string[] | undefined) ?? [];
  if (!handed.includes(token.accessor)) ctx.state.set(KEY.handed, [...handed, token.accessor]);
}

function handedAccessors(ctx: VaultContext): string[] {
  return (ctx.state.get(KEY.handed) as string[] | undefined) ?? [];
}

/**
 * The tokens that reach the resource: each known or lineage-found token Vault still knows and that
 * carries `policy` (any live one when `policy` is '': a secret of the user's own, whose reading
 * policy is the grant's business). One whose lookup fails otherwise is named, never dropped.
 */
export async function reachingTokens(ctx: VaultContext, policy: string): Promise<string[]> {
  const candidates = new Set(handedAccessors(ctx));
  const cursor = cursorOf(ctx);
  if (cursor instanceof AuditCursor && !ctx.state.has(KEY.unreadable)) {
    let hashed: string[];
    try {
      await cursor.read();
      hashed = await hashedAccessors(ctx, cursor, candidates);
    } catch (error) {
      // Residue is then judged from the known accessors alone, as on a target without a log; audit-trail is inconclusive.
      const why = error instanceof Error ? error.message : String(error);
      ctx.state.set(KEY.unreadable, why);
      ctx.evidence.record(`lineage could no longer be read from the audit log: ${why}; residue is read from the accessors the scenario was handed, without lineage`);
      return lookUpReaching(ctx, candidates, policy);
    }
    const lineage = lineageOf(cursor.entries, new Set([...candidates, ...hashed]), policy);
    for (const accessor of lineage.accessors) candidates.add(accessor);
    if (lineage.hmacOnly.length > 0) ctx.state.set(KEY.hmacOnly, lineage.hmacOnly);
    // Where the last read after the grant's use stopped: a revocation later in the log is the harness's teardown.
    if (ctx.state.has(KEY.grant)) ctx.state.set(KEY.residueRead, cursor.offset);
  }
  return lookUpReaching(ctx, candidates, policy);
}

async function lookUpReaching(ctx: VaultContext, candidates: ReadonlySet<string>, policy: string): Promise<string[]> {
  const found = new Set<string>();
  for (const accessor of candidates) {
    try {
      const info = await lookupAccessor(ctx.client.api, accessor);
      if (policy === '' || effectivePolicies(info).includes(policy)) found.add(`token:${accessor}`);
    } catch (error) {
      if (!saysGone(error, GONE.accessor)) found.add(`unreadable token:${accessor} (${readRefusal(error).detail})`);
    }
  }
  return [...found].sort();
}

/**
 * Where the device HMACs accessors, the known ones as its log writes them, so what they created is
 * still found: one sys/audit-hash call per known accessor, remembered.
 */
async function hashedAccessors(ctx: VaultContext, cursor: AuditCursor, accessors: ReadonlySet<string>): Promise<string[]> {
  if (!cursor.accessorsHmaced) return [];
  const known = (ctx.state.get(KEY.hashed) as Map<string, string> | undefined) ?? new Map<string, string>();
  ctx.state.set(KEY.hashed, known);
  for (const accessor of accessors) if (!known.has(accessor)) known.set(accessor, await auditHash(ctx.client.api, cursor.trail.device, accessor));
  return [...known.values()];
}

/** The scenario is done with the log (teardown): what it kept of it may go. */
export function closeTrail(ctx: VaultContext): void {
  const cursor = cursorOf(ctx);
  if (cursor instanceof AuditCursor) cursor.close();
}

/** What residue was searched from, for the evidence: an auditor must see what was not looked at. */
export function recordResidueSearch(ctx: VaultContext): void {
  const cursor = cursorOf(ctx);
  const hmacOnly = (ctx.state.get(KEY.hmacOnly) as string[] | undefined) ?? [];
  ctx.evidence.record('residue was searched from the scenario\'s own tokens', {
    handed: handedAccessors(ctx),
    lineage:
      cursor instanceof AuditCursor && !ctx.state.has(KEY.unreadable)
        ? `read from ${cursor.trail.log}: tokens created with the handed ones, and tokens issued since setup carrying the read policy`
        : 'not searched: no readable audit log, so tokens created with the handed ones were not looked for',
    ...(hmacOnly.length > 0 ? { notLookedUp: `${hmacOnly.length} token(s) the log names only by an HMAC'd accessor (the device HMACs accessors: declare it with hmac_accessor = false)` } : {}),
  });
}

type Found = { name: string; entry: AuditEntry };

/**
 * Judge the grant's trail: its issue, its use on the secret's path and its end, three separate
 * records of the target's own log. A revocation names the token (revoke-accessor, revoke, revoke-orphan)
 * or is its own revoke-self. An expiry writes no record: for a token that ended by expiry the
 * log's first refusal of it at or after its stated expiry stands for the end; a refusal before
 * that expiry with no revocation recorded is a missing revocation.
 */
export async function judgeAuditTrail(ctx: VaultContext): Promise<void> {
  const cursor = cursorOf(ctx);
  const unreadable = ctx.state.get(KEY.unreadable) as string | undefined;
  if (unreadable !== undefined) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `the audit log could not be read: ${unreadable}` });
    return;
  }
  if (cursor === undefined) return;
  const grant = ctx.state.get(KEY.grant) as VaultToken | undefined;
  if (!grant) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: 'no grant token reached the point of use, so there is nothing to find in the audit log' });
    return;
  }
  if (!ctx.state.has(KEY.worked)) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: 'the grant never read the secret, so its use and end were not looked for in the audit log' });
    return;
  }
  const residueRead = ctx.state.get(KEY.residueRead) as number | undefined;
  if (residueRead === undefined && cursor !== 'discard') {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: 'the lifecycle stopped before residue was read, so the end of the grant was not looked for in the audit log' });
    return;
  }
  if (cursor === 'discard') {
    ctx.report({ check: 'audit-trail', verdict: 'fail', detail: 'missing: issue, use and revocation of the grant\'s token: the audit device discards every record' });
    return;
  }
  let ids: Set<string>;
  let tokenIds: Set<string>;
  try {
    const device = cursor.trail.device;
    // The token itself too, compared in memory only: a device that logs raw writes it as it is.
    tokenIds = new Set([await auditHash(ctx.client.api, device, grant.token), grant.token]);
    ids = new Set(grant.accessor === '' ? [] : [grant.accessor, await auditHash(ctx.client.api, device, grant.accessor)]);
    await cursor.read();
  } catch (error) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `the grant's records could not be looked for: ${readRefusal(error).detail}` });
    return;
  }
  const endBy = residueRead ?? cursor.offset;
  const path = taskSecretPath(ctx);
  const trail = trailOf(cursor.entries, ids, tokenIds, path, endBy);
  const who = grant.accessor === '' ? 'the batch token (no accessor)' : `accessor ${grant.accessor}`;
  const found: Found[] = [];
  const missing: string[] = [];
  if (trail.issue) found.push({ name: 'issue', entry: trail.issue });
  else missing.push(`issue (no response issuing ${who})`);
  if (trail.use) found.push({ name: 'use', entry: trail.use });
  else missing.push(`use (no request with ${who} on ${path})`);
  if (trail.revocation) found.push({ name: 'revocation', entry: trail.revocation });
  else if (trail.expiry) found.push({ name: `end by expiry at ${trail.expiry.expiresAt} (Vault writes no record of an expiry: its first refusal of the token after it)`, entry: trail.expiry.refusal });
  else if (trail.earlyRefusal) missing.push(`revocation (the token was refused at ${trail.earlyRefusal.time}, before its stated expiry, and no request revoking ${who} is recorded)`);
  else missing.push(`revocation (no request revoking ${who}, and no refusal of the token after its stated expiry)`);
  ctx.evidence.record(`audit records of the grant's token in ${cursor.trail.log} (device ${cursor.trail.device}/)`, {
    log: cursor.trail.log,
    device: cursor.trail.device,
    found: found.map((f) => ({ record: f.name, ...evidenceOf(f.entry) })),
    missing,
  });
  const described = found.map((f) => `${f.name}: ${f.entry.type} ${f.entry.operation} ${f.entry.path} at ${f.entry.time}`).join('; ');
  ctx.report(
    missing.length === 0
      ? { check: 'audit-trail', verdict: 'pass', detail: `${cursor.trail.log} records the grant's token (${who}): ${described}` }
      : { check: 'audit-trail', verdict: 'fail', detail: `missing from ${cursor.trail.log}: ${missing.join('; ')}${described ? `; found ${described}` : ''}` },
  );
}
