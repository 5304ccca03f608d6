/**
 * The directory's own audit trail (OpenLDAP accesslog: reqStart, reqType, reqDN, reqAuthzID,
 * reqMod), judged by the point of use on every directory scenario, whoever granted: the grant
 * sources of this adapter, OpenBao's ldap engine, a user's broker. What the point knows is the
 * identity it was handed; the log must show, as separate records of the directory's own:
 *
 * - **the grant**: a write that created the identity (an account added) or made it a member of a
 *   group (`member:+ <dn>`, in an added group or a modified one);
 * - **the first use**: a successful bind by the identity after the grant (the local slapd logs
 *   binds: `logops writes bind`);
 * - **the end of each grant**: the account's deletion; for a membership, `member:- <dn>` on that
 *   group, the group's deletion or the identity's. An entry dds expires is deleted by the
 *   directory itself, at times recorded as a delete by the root DN; measured on the local slapd,
 *   that record is not always written (never for an expired account the grant group still named
 *   as a member). Without it, the expiry the log recorded for the entry (entryExpireTimestamp, set
 *   by the add or a refresh) stands for the end when it passed before the residue was read and the
 *   teardown did not find the entry still there to delete; the evidence says the end is the
 *   directory's expiry, not a record of a removal.
 *
 * The scenario's part of the log is bounded by the log itself, never by this machine's clock:
 * it starts after the newest record when both halves have set up (so a standing membership made
 * there is not read as the grant) and ends with the newest record when the residue was last
 * read (so the teardown's removals never stand in for an end nobody made). accesslog's reqStart
 * fractions are a counter, not time, so only the directory's own values are compared.
 *
 * Records are read again with backoff while one is missing (the log may lag the change), up to
 * `auditWaitSeconds`; the wait is evidence. A missing record fails `audit-trail`, a log that
 * cannot be read leaves it inconclusive, and a target whose configuration names no log
 * (`accessLogDn`) does not evidence it at all. Only the `member`, `objectClass`, `entryTtl` and
 * `entryExpireTimestamp` modifications are attached: the log also holds every added attribute,
 * passwords included.
 */
import { escapeFilterValue, type LdapClient, values } from './client.ts';
import { generalizedTimeToIso } from './dynamic-objects.ts';
import type { LdapContext } from './fixtures.ts';
import { awaitLagging, describeWait, type LaggingOutcome } from './lagging-read.ts';
import { describeLdapError } from './probes.ts';

/** The point's own state, between phases. */
const KEY = {
  since: 'auditSince',
  until: 'auditUntil',
  identity: 'auditIdentity',
  worked: 'auditGrantWorked',
  unreadable: 'auditUnreadable',
  none: 'auditNotEvidenced',
} as const;

export interface AuditRecord {
  reqStart: string;
  reqType: string;
  reqDN: string;
  reqAuthzID: string;
  reqResult: string;
  reqMod: string[];
}

const ATTACHED_MODS = /^(member|objectClass|entryTtl|entryExpireTimestamp):/i;
const FIELDS = ['reqStart', 'reqType', 'reqDN', 'reqAuthzID', 'reqResult', 'reqMod'];
/**
 * How far back the newest record is looked for: a quarter second first, so what a busy directory
 * logs (other writers, a hundred scenarios at once) is read for that long only, not a minute; then
 * two seconds, a minute and ten, when that finds nothing, for a quiet directory or a directory clock
 * behind this machine's. Any record found is among the newest, so the first window that finds one
 * holds the newest.
 */
const LOOKBACKS_MS = [250, 2_000, 60_000, 10 * 60_000];
const LOOKBACK_MS = LOOKBACKS_MS.at(-1) ?? 0;

function toGeneralizedTime(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** reqStart values in the directory's order: whole seconds, then the fraction as a number (it is a counter). */
export function compareReqStart(a: string, b: string): number {
  const split = (v: string): [string, number] => {
    const m = /^(\d{14})(?:\.(\d+))?Z$/.exec(v);
    return m ? [m[1] ?? '', Number(m[2] ?? '-1')] : [v, -1];
  };
  const [sa, fa] = split(a);
  const [sb, fb] = split(b);
  return sa === sb ? fa - fb : sa < sb ? -1 : 1;
}

function isoOf(generalized: string): string {
  try {
    return generalizedTimeToIso(generalized);
  } catch {
    return generalized;
  }
}

function toRecord(entry: Record<string, unknown>): AuditRecord {
  const one = (a: string): string => values(entry, a)[0] ?? '';
  const mods = values(entry, 'reqMod');
  return { reqStart: one('reqStart'), reqType: one('reqType'), reqDN: one('reqDN'), reqAuthzID: one('reqAuthzID'), reqResult: one('reqResult'), reqMod: mods.filter((m) => ATTACHED_MODS.test(m)) };
}

function sameDn(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function hasMod(record: AuditRecord, op: '+' | '-', dn: string): boolean {
  return record.reqMod.some((m) => m.toLowerCase() === `member:${op} ${dn}`.toLowerCase());
}

/** The newest record's reqStart; undefined when the log holds none in the lookback. */
async function newestRecord(client: LdapClient): Promise<string | undefined> {
  for (const lookback of LOOKBACKS_MS) {
    const result = await client.admin.search(client.layout.accessLogDn, {
      scope: 'one',
      filter: `(reqStart>=${toGeneralizedTime(new Date(Date.now() - lookback))})`,
      attributes: ['reqStart'],
    });
    const newest = result.searchEntries
      .map((e) => values(e, 'reqStart')[0] ?? '')
      .filter(Boolean)
      .sort(compareReqStart)
      .at(-1);
    if (newest) return newest;
  }
  return undefined;
}

function unreadable(ctx: LdapContext, why: string): void {
  if (!ctx.state.has(KEY.unreadable)) ctx.state.set(KEY.unreadable, why);
}

/** After both halves' setup, before the grant: the scenario's records are the ones after the newest there is now. Once. */
export async function openTrail(ctx: LdapContext): Promise<void> {
  if (ctx.state.has(KEY.since) || ctx.state.has(KEY.none) || ctx.state.has(KEY.unreadable)) return;
  const logDn = ctx.client.layout.accessLogDn;
  if (!logDn) {
    ctx.state.set(KEY.none, true);
    // The marker the reports show per control as a gap (reports/writers/summary.ts).
    ctx.evidence.record('audit-trail not evidenced on this target: the configuration names no accesslog suffix (ldap.accessLogDn) jitc may read', { notEvidenced: 'audit-trail' });
    return;
  }
  try {
    const newest = await newestRecord(ctx.client);
    const since = newest ?? toGeneralizedTime(new Date(Date.now() - LOOKBACK_MS));
    ctx.state.set(KEY.since, since);
    ctx.evidence.record(`the directory's own log (${logDn}) is read from its records after ${since}`, { log: logDn, after: since });
  } catch (error) {
    const why = describeLdapError(error).text;
    unreadable(ctx, why);
    ctx.evidence.record(`the audit log ${logDn} could not be read: ${why}`, { log: logDn });
  }
}

/** The identity the task used: the grant's, whose trail is judged; `worked` once it did the privileged action. */
export function rememberUse(ctx: LdapContext, dn: string, worked: boolean): void {
  if (!ctx.state.has(KEY.identity)) ctx.state.set(KEY.identity, dn);
  if (worked && sameDn(ctx.state.get(KEY.identity) as string, dn)) ctx.state.set(KEY.worked, true);
}

/** When the residue is read after the use: the scenario's part of the log ends here, before any teardown. */
export async function markTrailEnd(ctx: LdapContext): Promise<void> {
  if (!ctx.state.has(KEY.identity) || !ctx.state.has(KEY.since) || ctx.state.has(KEY.unreadable)) return;
  try {
    const newest = await newestRecord(ctx.client);
    if (newest) ctx.state.set(KEY.until, newest);
  } catch (error) {
    unreadable(ctx, describeLdapError(error).text);
  }
}

/** `later`: deletes after the window (the teardown's): an entry deleted there had not expired. */
type Read = { identity: AuditRecord[]; binds: AuditRecord[]; groups: AuditRecord[]; later: AuditRecord[] };

async function search(client: LdapClient, filter: string): Promise<AuditRecord[]> {
  const result = await client.admin.search(client.layout.accessLogDn, { scope: 'one', filter, attributes: FIELDS });
  return result.searchEntries.map((e) => toRecord(e)).sort((a, b) => compareReqStart(a.reqStart, b.reqStart));
}

/** A whole second before `reqStart`: a coarse bound for the directory, the exact one is compared here. */
function secondBefore(reqStart: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})/.exec(reqStart);
  if (!m) return reqStart;
  const at = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return toGeneralizedTime(new Date(at - 1000));
}

/**
 * One read of the scenario's part of the log: what names the identity, its binds, and what happened
 * to the groups it joined. The window is applied here, not in the filter: slapd's ordering match
 * on a reqStart whose fraction is all zeros (dds's own deletes are logged so) leaves out the equal
 * value, so `reqStart<=` would drop the very record that ends a window.
 */
export async function readTrail(client: LdapClient, dn: string, since: string, until: string): Promise<Read> {
  const coarse = `(reqStart>=${secondBefore(since)})(reqResult=0)`;
  const inWindow = (r: AuditRecord): boolean => compareReqStart(r.reqStart, since) > 0 && compareReqStart(r.reqStart, until) <= 0;
  const isLater = (r: AuditRecord): boolean => r.reqType === 'delete' && compareReqStart(r.reqStart, until) > 0;
  const d = escapeFilterValue(dn);
  const named = await search(client, `(&(objectClass=auditWriteObject)${coarse}(|(reqDN=${d})(reqMod=member:+ ${d})(reqMod=member:- ${d})))`);
  const identity = named.filter(inWindow);
  const binds = (await search(client, `(&(objectClass=auditBind)${coarse}(reqDN=${d}))`)).filter(inWindow);
  const joined = [...new Set(identity.filter((r) => hasMod(r, '+', dn)).map((r) => r.reqDN.toLowerCase()))];
  const touched = joined.length === 0 ? [] : await search(client, `(&(objectClass=auditWriteObject)${coarse}(|${joined.map((g) => `(reqDN=${escapeFilterValue(g)})`).join('')}))`);
  return { identity, binds, groups: touched.filter(inWindow), later: [...named, ...touched].filter(isLater) };
}

interface Found {
  name: string;
  record?: AuditRecord;
  /** In words, when no single record stands for it (an expiry). */
  note?: string;
}

interface Judged {
  found: Found[];
  missing: string[];
}

/** The expiry the log last recorded for `dn` (entryExpireTimestamp of its add or a refresh), if any. */
function recordedExpiry(records: AuditRecord[], dn: string): string | undefined {
  const mods = records.filter((r) => sameDn(r.reqDN, dn)).flatMap((r) => r.reqMod.filter((m) => /^entryExpireTimestamp:[+=] /i.test(m)));
  const last = mods.at(-1);
  return last?.replace(/^entryExpireTimestamp:[+=] /i, '');
}

const after = (r: AuditRecord, from: AuditRecord): boolean => compareReqStart(r.reqStart, from.reqStart) > 0;

/** The end of one grant: a removal record after it, or the directory's expiry the log recorded, passed before `until`. */
function endOf(name: string, grant: AuditRecord, removals: AuditRecord[], expiring: string[], read: Read, until: string): Found | string {
  const all = [...read.identity, ...read.groups];
  const removal = removals.find((r) => after(r, grant));
  if (removal) {
    const byExpiry = expiring.map((dn) => recordedExpiry(all, dn)).find((t) => t !== undefined && compareReqStart(`${t.replace(/Z$/, '')}.0Z`, removal.reqStart) <= 0);
    return { name: `end of ${name}${byExpiry ? ` (after its recorded expiry ${isoOf(byExpiry)}: the directory's own deletion)` : ''}`, record: removal };
  }
  for (const dn of expiring) {
    const expiry = recordedExpiry(all, dn);
    // Deleted after the window (by the teardown): it was still there, so it did not expire.
    if (read.later.some((r) => sameDn(r.reqDN, dn))) continue;
    // The expiry is a whole second; `until` a reqStart: the whole second must have passed before the residue was read.
    if (expiry && compareReqStart(`${expiry.replace(/Z$/, '')}.999999Z`, until) < 0) {
      return { name: `end of ${name}`, note: `expired by the directory at ${isoOf(expiry)} (${dn}), the expiry its own log recorded; dds wrote no delete record of it` };
    }
  }
  return `end of ${name} (no removal recorded after the grant${expiring.length > 0 ? ', and no recorded expiry passed before the residue was read' : ''})`;
}

export function judgeRecords(dn: string, read: Read, until: string): Judged {
  const found: Found[] = [];
  const missing: string[] = [];
  const all = [...read.identity, ...read.groups].sort((a, b) => compareReqStart(a.reqStart, b.reqStart));
  const isDelete = (target: string) => (r: AuditRecord) => r.reqType === 'delete' && sameDn(r.reqDN, target);
  const ownDeletes = read.identity.filter(isDelete(dn));
  const added = read.identity.filter((r) => r.reqType === 'add' && sameDn(r.reqDN, dn));
  const joins = read.identity.filter((r) => hasMod(r, '+', dn));
  const grants: Found[] = [];
  for (const r of added) {
    grants.push({ name: `grant: ${dn} added`, record: r });
    const end = endOf(`account ${dn}`, r, ownDeletes, [dn], read, until);
    if (typeof end === 'string') missing.push(end);
    else found.push(end);
  }
  for (const r of joins) {
    grants.push({ name: `grant: ${dn} made a member of ${r.reqDN}`, record: r });
    const removals = all.filter((x) => (x.reqType === 'modify' && sameDn(x.reqDN, r.reqDN) && hasMod(x, '-', dn)) || isDelete(r.reqDN)(x) || isDelete(dn)(x));
    const end = endOf(`membership in ${r.reqDN}`, r, removals, [r.reqDN, dn], read, until);
    if (typeof end === 'string') missing.push(end);
    else found.push(end);
  }
  const first = grants.map((g) => g.record as AuditRecord).sort((a, b) => compareReqStart(a.reqStart, b.reqStart))[0];
  if (!first) {
    missing.unshift(`grant (no write adds ${dn} or makes it a member of a group)`);
    return { found, missing };
  }
  const use = read.binds.find((b) => after(b, first));
  if (use) found.unshift({ name: `first use: bind as ${dn}`, record: use });
  else missing.unshift(`use (no successful bind as ${dn} after the grant)`);
  found.unshift(...grants);
  return { found, missing };
}

function describeFound(f: Found): string {
  return f.record ? `${f.name}: ${f.record.reqType} ${f.record.reqDN} at ${isoOf(f.record.reqStart)} by ${f.record.reqAuthzID || '(the directory itself)'}` : `${f.name}: ${f.note ?? ''}`;
}

function evidenceOf(f: Found): Record<string, unknown> {
  return f.record ? { record: f.name, ...f.record } : { record: f.name, note: f.note };
}

/**
 * Judge the trail of the identity the task used (teardown): its grant, first use and end. A
 * missing record is read again until `waitSeconds` have passed.
 */
export async function judgeAuditTrail(ctx: LdapContext, waitSeconds: number): Promise<void> {
  if (ctx.state.has(KEY.none)) return;
  const logDn = ctx.client.layout.accessLogDn;
  const why = ctx.state.get(KEY.unreadable) as string | undefined;
  if (why !== undefined) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `could not read the audit log at ${logDn}: ${why}` });
    return;
  }
  const dn = ctx.state.get(KEY.identity) as string | undefined;
  const since = ctx.state.get(KEY.since) as string | undefined;
  const until = ctx.state.get(KEY.until) as string | undefined;
  if (!dn || !since) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: 'no grant reached the point of use, so there is nothing to find in the audit log' });
    return;
  }
  if (!ctx.state.has(KEY.worked)) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `the grant (${dn}) never read the protected attribute, so its use and end were not looked for in the audit log` });
    return;
  }
  if (!until) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: 'the lifecycle stopped before the residue was read, so the end of the grant was not looked for in the audit log' });
    return;
  }
  const wait = await awaitLagging(
    async (): Promise<LaggingOutcome<Judged>> => {
      try {
        const judged = judgeRecords(dn, await readTrail(ctx.client, dn, since, until), until);
        return judged.missing.length === 0 ? { state: 'found', value: judged } : { state: 'missing', value: judged };
      } catch (error) {
        const answer = describeLdapError(error);
        // noSuchObject: the suffix named is no log at all, which waiting does not change.
        return { state: 'unreachable', why: answer.kind === 'result' && answer.code === 32 ? `no entry ${logDn} (noSuchObject): the configuration names a log the directory does not have` : answer.text };
      }
    },
    { deadlineMs: waitSeconds * 1000, signal: ctx.signal },
  );
  const waited = { outcome: wait.last.state, reads: wait.reads, waitedMs: wait.waitedMs, deadlineMs: wait.deadlineMs };
  const last = wait.last;
  if (last.state === 'unreachable') {
    ctx.evidence.record(`audit log ${logDn} could not be read: ${last.why}`, { log: logDn, wait: waited });
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `could not read the audit log at ${logDn}: ${last.why} (${describeWait(wait)})` });
    return;
  }
  const { found, missing } = last.value;
  ctx.evidence.record(`audit records of ${dn} in the directory's own log (${logDn}), ${describeWait(wait)}`, {
    log: logDn,
    identity: dn,
    window: { after: since, upTo: until },
    wait: waited,
    found: found.map(evidenceOf),
    missing,
  });
  const described = found.map(describeFound).join('; ');
  ctx.report(
    missing.length === 0
      ? { check: 'audit-trail', verdict: 'pass', detail: `${logDn} records ${described}; ${describeWait(wait)}` }
      : { check: 'audit-trail', verdict: 'fail', detail: `missing from ${logDn}, ${describeWait(wait)}: ${missing.join('; ')}${described ? `; found ${described}` : ''}` },
  );
}
