/**
 * The audit-trail check on a log that lags, against a real slapd: a record the directory writes
 * only after the first read is still found (and the wait is in the evidence); a record never
 * written fails once the deadline has passed; a log that cannot be read is inconclusive. And an
 * entry the directory expires ends its grant whether or not the reaper's delete reached the log.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Adapter, Finding, StartedTarget, TargetConnection } from '../../adapters/contract.ts';
import { judgeAuditTrail, judgeRecords, markTrailEnd, openTrail, rememberUse } from '../../adapters/ldap/audit.ts';
import { connectLdap, type LdapClient } from '../../adapters/ldap/client.ts';
import type { LdapContext } from '../../adapters/ldap/fixtures.ts';
import { refreshTtl } from '../../adapters/ldap/dynamic-objects.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { Evidence } from '../../scenarios/evidence.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { freePort } from '../../adapters/local-process.ts';
import { testRunId } from '../support/run-id.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const runId = testRunId();
let target: StartedTarget | undefined;
let adapter: Adapter<LdapClient>;
let client: LdapClient;

interface AuditRun {
  ctx: LdapContext;
  findings: Finding[];
}

function context(on: LdapClient, name: string): AuditRun {
  const findings: Finding[] = [];
  const prefix = `jitc-${runId}-${name}`;
  const ctx: LdapContext = {
    runId,
    scenarioId: name,
    prefix,
    params: {},
    client: on,
    connection: target?.connection ?? expect.unreachable('no target'),
    task: { windowSeconds: 30, approver: 'test', needs: ['read'], id: `${runId}/${name}` },
    evidence: new Evidence(new SecretRegistry()),
    secrets: new SecretRegistry(),
    dir: process.cwd(),
    state: new Map(),
    report: (finding) => findings.push(finding),
    signal: new AbortController().signal,
  };
  return { ctx, findings };
}

const member = (name: string): string => `cn=jitc-${runId}-${name}.someone,${client.layout.accountsDn}`;

/** A group of the scenario's own holding `who`: the grant, as a grant group is one (dynamic: the directory expires it). */
async function grantGroup(name: string, who: string, dynamic = false): Promise<string> {
  const dn = `cn=jitc-${runId}-${name}.grant,${client.layout.groupsDn}`;
  await client.admin.use((c) => c.add(dn, { objectClass: ['groupOfNames', ...(dynamic ? ['dynamicObject'] : [])], cn: `jitc-${runId}-${name}.grant`, member: who }));
  return dn;
}

/** The identity the grant is for; its use, as the log sees it, is a bind of its own. */
async function account(name: string): Promise<{ dn: string; password: string }> {
  const dn = member(name);
  const password = `pw-${runId}-${name}`;
  await client.admin.use((c) => c.add(dn, { objectClass: ['applicationProcess', 'simpleSecurityObject'], cn: `jitc-${runId}-${name}.someone`, userPassword: password }));
  return { dn, password };
}

async function bindAs(who: { dn: string; password: string }): Promise<void> {
  const c = client.open();
  await c.bind(who.dn, who.password);
  await c.unbind();
}

/** The scenario's part of the log ends at the newest record, or later when a test writes after it on purpose. */
function endTrailAt(ctx: LdapContext, until: string): void {
  ctx.state.set('auditUntil', until);
}

const FAR = '29991231235959.999999Z';

/**
 * A scenario's trail up to its use: the identity, the log opened, the grant (a group holding it,
 * dynamic when the directory is to expire it) and a bind as it.
 */
async function grantedAndUsed(name: string, dynamic = false): Promise<AuditRun & { dn: string; who: { dn: string; password: string } }> {
  const run = context(client, name);
  const who = await account(name);
  await openTrail(run.ctx);
  const dn = await grantGroup(name, who.dn, dynamic);
  if (dynamic) await client.admin.use((c) => refreshTtl(c, dn, 1));
  await bindAs(who);
  rememberUse(run.ctx, who.dn, true);
  return { ...run, dn, who };
}


beforeAll(async () => {
  adapter = (await getAdapter('ldap')) as Adapter<LdapClient>;
  [target] = await bringUp([adapter], { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
  if (!target) throw new Error('the local slapd did not start');
  client = await adapter.connect(target.connection);
}, 60_000);

afterAll(async () => {
  if (client) {
    await adapter.cleanup(client, runId);
    await adapter.disconnect?.(client);
  }
  await target?.stop();
});

describe('audit-trail on a log that lags', () => {
  test('a removal the directory records only after the first read is found by a later read, and the wait is evidence', async () => {
    const { ctx, findings, dn } = await grantedAndUsed('late');
    endTrailAt(ctx, FAR);
    // The removal reaches the log 2.5 s after the audit starts reading: later than a fixed 2 s would allow.
    const late = new Promise((r) => setTimeout(r, 2500)).then(() => client.admin.use((c) => c.del(dn)));
    await judgeAuditTrail(ctx, 4);
    await late;
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ check: 'audit-trail', verdict: 'pass' });
    expect(findings[0]?.detail).toMatch(/; found after \d+ reads over \d\.\d s \(deadline 4 s\)$/);
    const read = ctx.evidence.events.find((e) => e.event.startsWith('audit records of'));
    const wait = read?.data?.wait as { reads: number; waitedMs: number; outcome: string };
    expect(wait.outcome).toBe('found');
    expect(wait.reads).toBeGreaterThan(1);
    expect(wait.waitedMs).toBeGreaterThanOrEqual(2400);
  });

  test('a removal never recorded fails once the deadline has passed, naming what is missing and how long it waited', async () => {
    const { ctx, findings, dn } = await grantedAndUsed('never');
    await markTrailEnd(ctx);
    const started = Date.now();
    await judgeAuditTrail(ctx, 2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(findings).toEqual([
      expect.objectContaining({ check: 'audit-trail', verdict: 'fail', detail: expect.stringMatching(new RegExp(`^missing from cn=accesslog, missing after \\d+ reads over 2\\.\\d s \\(deadline 2 s\\): end of membership in ${dn.replace(/[.]/g, '\\.')} \\(no removal recorded`)) }),
    ]);
  });

  test('the teardown\'s removal after the residue was read is not the end of the grant', async () => {
    const { ctx, findings, dn } = await grantedAndUsed('teardown');
    await markTrailEnd(ctx);
    await client.admin.use((c) => c.del(dn));
    await judgeAuditTrail(ctx, 1);
    expect(findings).toEqual([expect.objectContaining({ check: 'audit-trail', verdict: 'fail', detail: expect.stringContaining(`end of membership in ${dn}`) })]);
  });

  test('a log that cannot be read is inconclusive, never a fail or a pass', async () => {
    const port = await freePort();
    const connection: TargetConnection = { ...(target?.connection ?? expect.unreachable('no target')) };
    const unreachable = connectLdap({ ...connection, settings: { ...connection.settings, url: `ldap://127.0.0.1:${port}`, timeoutMs: '1000' } });
    const { ctx, findings } = context(unreachable, 'dark');
    await openTrail(ctx);
    rememberUse(ctx, `cn=x,${client.layout.accountsDn}`, true);
    await judgeAuditTrail(ctx, 1);
    await unreachable.admin.close();
    expect(findings).toEqual([expect.objectContaining({ check: 'audit-trail', verdict: 'inconclusive', detail: expect.stringMatching(/^could not read the audit log at cn=accesslog: ECONNREFUSED/) })]);
  });

  test('a target naming no log does not evidence the check: no finding, and the evidence says why', async () => {
    const connection: TargetConnection = { ...(target?.connection ?? expect.unreachable('no target')) };
    const unnamed = connectLdap({ ...connection, settings: { ...connection.settings, accessLogDn: '' } });
    const { ctx, findings } = context(unnamed, 'unnamed');
    await openTrail(ctx);
    rememberUse(ctx, `cn=x,${client.layout.accountsDn}`, true);
    await judgeAuditTrail(ctx, 1);
    await unnamed.admin.close();
    expect(findings).toEqual([]);
    expect(ctx.evidence.events.some((e) => e.data?.notEvidenced === 'audit-trail')).toBe(true);
  });
});

describe('an end by the directory\'s own expiry', () => {
  test('a dynamic grant group dds deletes is the end of the membership, found in the log', async () => {
    const { ctx, findings, dn } = await grantedAndUsed('expiry', true);
    // dds reaps once a second: the group is gone within three.
    await new Promise((r) => setTimeout(r, 3000));
    await markTrailEnd(ctx);
    await judgeAuditTrail(ctx, 4);
    expect(findings).toEqual([expect.objectContaining({ check: 'audit-trail', verdict: 'pass', detail: expect.stringContaining(`end of membership in ${dn}`) })]);
  });

  test('without the reaper\'s delete record, the expiry the log recorded stands for the end once it has passed, and says so', () => {
    const dn = 'cn=a,ou=accounts,dc=x';
    const group = 'cn=g,ou=groups,dc=x';
    const rec = (reqStart: string, reqType: string, reqDN: string, reqMod: string[] = []) => ({ reqStart, reqType, reqDN, reqAuthzID: 'cn=admin,dc=x', reqResult: '0', reqMod });
    const read = {
      identity: [rec('20260101000000.000010Z', 'add', group, [`member:+ ${dn}`, 'entryExpireTimestamp:+ 20260101000100Z'])],
      binds: [rec('20260101000000.000012Z', 'bind', dn)],
      groups: [rec('20260101000000.000010Z', 'add', group, [`member:+ ${dn}`, 'entryExpireTimestamp:+ 20260101000100Z']), rec('20260101000000.000011Z', 'modify', group, ['entryExpireTimestamp:= 20260101000003Z'])],
      later: [],
    };
    const passed = judgeRecords(dn, read, '20260101000005.000020Z');
    expect(passed.missing).toEqual([]);
    expect(passed.found.map((f) => f.note ?? '')).toContainEqual(expect.stringMatching(/^expired by the directory at 2026-01-01T00:00:03\.000Z .*dds wrote no delete record/));
    // Read in the very second it expires: not yet passed, so the end is missing.
    expect(judgeRecords(dn, read, '20260101000003.000020Z').missing).toEqual([expect.stringMatching(/^end of membership in cn=g/)]);
    // The teardown found the group still there and deleted it: it had not expired, whatever the log said it would.
    expect(judgeRecords(dn, { ...read, later: [rec('20260101000009.000001Z', 'delete', group)] }, '20260101000005.000020Z').missing).toEqual([expect.stringMatching(/^end of membership in cn=g/)]);
    // Nothing in the log names the identity: the grant itself is missing, and nothing else can be judged.
    expect(judgeRecords(dn, { identity: [], binds: read.binds, groups: [], later: [] }, '20260101000005.000020Z').missing).toEqual([expect.stringMatching(/^grant \(no write adds cn=a/)]);
    // No bind after the grant: the use is missing.
    expect(judgeRecords(dn, { ...read, binds: [] }, '20260101000005.000020Z').missing).toEqual([expect.stringMatching(/^use /)]);
  });
});
