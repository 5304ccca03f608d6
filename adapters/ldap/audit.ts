/**
 * The directory's own audit trail (OpenLDAP accesslog: reqStart, reqType, reqDN, reqAuthzID…).
 * As a scenario grants and removes, it notes what the directory should have recorded; after the
 * lifecycle the records are read back from the log database and attached as evidence. With
 * `audit: judge` a missing grant or removal record fails the `audit-trail` check.
 *
 * Records are attached with their request fields and only the `member`, `objectClass` and
 * `entryTtl` modifications: the log also holds every added attribute, passwords included.
 */
import { escapeFilterValue, type LdapClient, values } from './client.ts';
import { generalizedTimeToIso } from './dynamic-objects.ts';
import type { LdapContext } from './fixtures.ts';
import { awaitLagging, describeWait, type LaggingOutcome } from './lagging-read.ts';
import { describeLdapError } from './probes.ts';

export type AuditMode = 'judge' | 'attach' | 'off';

export interface AuditExpectation {
  stage: 'grant' | 'removal';
  type: 'add' | 'modify' | 'delete';
  dn: string;
  /** For a modify, the reqMod value the record must hold, e.g. `member:+ cn=…`. */
  mod?: string;
  /**
   * For a modify whose value the directory decides (the TTL a refresh set, after its own bounds):
   * the reqMod value must start with this, e.g. `entryTtl:= `; the record found shows the value.
   */
  modPrefix?: string;
  /** Who should have done it, in words. */
  by: string;
}

export interface AuditRecord {
  reqStart: string;
  reqType: string;
  reqDN: string;
  reqAuthzID: string;
  reqResult: string;
  reqSession: string;
  reqMod: string[];
}

const ATTACHED_MODS = /^(member|objectClass|entryTtl|entryExpireTimestamp):/i;

export function expectAudit(ctx: LdapContext, expectation: AuditExpectation): void {
  const list = (ctx.state.get('audit') as AuditExpectation[] | undefined) ?? [];
  list.push(expectation);
  ctx.state.set('audit', list);
}

function describe(e: AuditExpectation): string {
  const mod = e.mod ?? (e.modPrefix ? `${e.modPrefix}…` : undefined);
  return `${e.type} ${e.dn}${mod ? ` (${mod})` : ''} by ${e.by}`;
}

function toGeneralizedTime(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

function filterFor(e: AuditExpectation, since: Date): string {
  const parts = [
    '(objectClass=auditWriteObject)',
    `(reqType=${e.type})`,
    `(reqDN=${escapeFilterValue(e.dn)})`,
    '(reqResult=0)',
    `(reqStart>=${toGeneralizedTime(since)})`,
  ];
  if (e.mod) parts.push(`(reqMod=${escapeFilterValue(e.mod)})`);
  if (e.modPrefix) parts.push(`(reqMod=${escapeFilterValue(e.modPrefix)}*)`);
  return `(&${parts.join('')})`;
}

function toRecord(entry: Record<string, unknown>): AuditRecord {
  const one = (a: string): string => values(entry, a)[0] ?? '';
  const start = one('reqStart');
  let reqStart = start;
  try {
    reqStart = generalizedTimeToIso(start);
  } catch {
    // keep the directory's own text
  }
  return {
    reqStart,
    reqType: one('reqType'),
    reqDN: one('reqDN'),
    reqAuthzID: one('reqAuthzID'),
    reqResult: one('reqResult'),
    reqSession: one('reqSession'),
    reqMod: values(entry, 'reqMod').filter((m) => ATTACHED_MODS.test(m)),
  };
}

type Lookup = { records: AuditRecord[] } | { error: { code: number | null; text: string } };

async function lookup(client: LdapClient, e: AuditExpectation, since: Date): Promise<Lookup> {
  try {
    const result = await client.admin.search(client.layout.accessLogDn, {
      scope: 'one',
      filter: filterFor(e, since),
      attributes: ['reqStart', 'reqType', 'reqDN', 'reqAuthzID', 'reqResult', 'reqSession', 'reqMod'],
    });
    return { records: result.searchEntries.map((entry) => toRecord(entry)) };
  } catch (error) {
    const answer = describeLdapError(error);
    return { error: { code: answer.kind === 'result' ? answer.code : null, text: answer.text } };
  }
}

/** One read of every expected record: found when each has one; a log that is not there is final. */
async function readAll(client: LdapClient, expectations: AuditExpectation[], since: Date): Promise<LaggingOutcome<Lookup[]>> {
  const results = await Promise.all(expectations.map((e) => lookup(client, e, since)));
  const failed = results.find((r): r is Extract<Lookup, { error: unknown }> => 'error' in r && r.error.code !== 32);
  if (failed) return { state: 'unreachable', why: failed.error.text };
  if (results.some((r) => 'error' in r)) return { state: 'missing', value: results, final: true };
  return results.some((r) => 'records' in r && r.records.length === 0) ? { state: 'missing', value: results } : { state: 'found', value: results };
}

/** How long an `attach` audit waits for records that are evidence only. */
const ATTACH_WAIT_MS = 2000;

/**
 * Read the records, attach them, and (judge) report the `audit-trail` check. The log lags the
 * changes it records (and dds reaps on its own schedule), so a missing record is read again with
 * backoff until `waitSeconds` has passed; the wait is part of the evidence.
 */
export async function auditScenario(ctx: LdapContext, mode: AuditMode, waitSeconds: number): Promise<void> {
  const expectations = (ctx.state.get('audit') as AuditExpectation[] | undefined) ?? [];
  const since = ctx.state.get('auditSince') as Date | undefined;
  if (mode === 'off' || expectations.length === 0 || !since) return;
  const logDn = ctx.client.layout.accessLogDn;
  const wait = await awaitLagging(() => readAll(ctx.client, expectations, since), {
    deadlineMs: mode === 'judge' ? waitSeconds * 1000 : Math.min(ATTACH_WAIT_MS, waitSeconds * 1000),
    signal: ctx.signal,
  });
  const waited = { outcome: wait.last.state, reads: wait.reads, waitedMs: wait.waitedMs, deadlineMs: wait.deadlineMs };
  const last = wait.last;
  if (last.state === 'unreachable') {
    ctx.evidence.record(`audit log ${logDn} could not be read: ${last.why}`, { log: logDn, wait: waited });
    if (mode === 'judge') {
      ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `could not read the audit log at ${logDn}: ${last.why} (${describeWait(wait)})` });
    }
    return;
  }
  const rows = expectations.map((e, i) => ({ expected: describe(e), stage: e.stage, result: last.value[i] as Lookup }));
  ctx.evidence.record(`audit records read from the directory's own log (${logDn}), ${describeWait(wait)}`, {
    log: logDn,
    wait: waited,
    records: rows.map((r) => ('records' in r.result ? { stage: r.stage, expected: r.expected, found: r.result.records } : { stage: r.stage, expected: r.expected, error: r.result.error.text })),
  });
  if (mode !== 'judge') return;

  if (rows.some((r) => 'error' in r.result)) {
    ctx.report({ check: 'audit-trail', verdict: 'fail', detail: `the directory keeps no audit log at ${logDn} (noSuchObject): nothing records the grant or its removal` });
    return;
  }
  const summary = (stage: 'grant' | 'removal'): { found: string[]; missing: string[] } => {
    const found: string[] = [];
    const missing: string[] = [];
    for (const r of rows.filter((row) => row.stage === stage)) {
      const records = 'records' in r.result ? r.result.records : [];
      const first = records[0];
      if (first) found.push(`${first.reqType} ${first.reqDN} at ${first.reqStart} by ${first.reqAuthzID || '(internal)'}`);
      else missing.push(r.expected);
    }
    return { found, missing };
  };
  const grant = summary('grant');
  const removal = summary('removal');
  const missing = [...grant.missing.map((m) => `grant: ${m}`), ...removal.missing.map((m) => `removal: ${m}`)];
  // No removal was expected because nothing ended the grant (the broker left it, and it is not a
  // dynamic entry the directory expires): the log then shows a grant without an end, which is what
  // this check exists to catch — an empty list of removals must not read as "all found".
  if (!rows.some((r) => r.stage === 'removal')) {
    ctx.report({
      check: 'audit-trail',
      verdict: 'fail',
      detail: `${logDn} shows no end of the grant: nothing removed it, so no removal can be recorded (grant records: ${grant.found.join('; ') || 'none'}${grant.missing.length > 0 ? `; missing: ${grant.missing.join('; ')}` : ''})`,
    });
  } else if (missing.length > 0) {
    ctx.report({ check: 'audit-trail', verdict: 'fail', detail: `missing from ${logDn}, ${describeWait(wait)}: ${missing.join('; ')}` });
  } else {
    ctx.report({ check: 'audit-trail', verdict: 'pass', detail: `${logDn} records the grant (${grant.found.join('; ')}) and its removal (${removal.found.join('; ')}); ${describeWait(wait)}` });
  }
}
