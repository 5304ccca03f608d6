/**
 * The audit-trail check on a log that lags, against a real slapd: a record the directory writes
 * only after the first read is still found (and the wait is in the evidence); a record never
 * written fails once the deadline has passed; a log that cannot be read is inconclusive. And a
 * refresh's record is found whatever the countdown entryTtl shows when it is read back.
 */
import { Attribute, Change } from 'ldapts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Adapter, Finding, StartedTarget, TargetConnection } from '../../adapters/contract.ts';
import { auditScenario, expectAudit } from '../../adapters/ldap/audit.ts';
import { connectLdap, type LdapClient } from '../../adapters/ldap/client.ts';
import { type BrokerParams, type LdapContext, lifetimeOf, markStart } from '../../adapters/ldap/fixtures.ts';
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
  const params: BrokerParams = { audit: 'judge', auditWaitSeconds: 4, groupsIn: 'groups' };
  const prefix = `jitc-${runId}-${name}`;
  const ctx: LdapContext = {
    runId,
    scenarioId: name,
    prefix,
    params,
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
  markStart(ctx);
  return { ctx, findings };
}

/** A group of the scenario's own; the grant is `member` added to it, the removal its deletion. */
async function group(name: string): Promise<string> {
  const dn = `cn=jitc-${runId}-${name}.team,${client.layout.groupsDn}`;
  await client.admin.use((c) => c.add(dn, { objectClass: ['groupOfNames'], cn: `jitc-${runId}-${name}.team`, member: client.layout.emptyMember }));
  return dn;
}

const addMember = (dn: string, member: string) =>
  client.admin.use((c) => c.modify(dn, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [member] }) })));

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
    const { ctx, findings } = context(client, 'late');
    const dn = await group('late');
    const member = `cn=jitc-${runId}-late.someone,${client.layout.accountsDn}`;
    await addMember(dn, member);
    expectAudit(ctx, { stage: 'grant', type: 'modify', dn, mod: `member:+ ${member}`, by: 'the broker' });
    expectAudit(ctx, { stage: 'removal', type: 'delete', dn, by: 'the broker' });
    // The removal reaches the log 2.5 s after the audit starts reading: later than the fixed 2 s the audit once allowed.
    const late = new Promise((r) => setTimeout(r, 2500)).then(() => client.admin.use((c) => c.del(dn)));
    await auditScenario(ctx, 'judge', 4);
    await late;
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ check: 'audit-trail', verdict: 'pass' });
    expect(findings[0]?.detail).toMatch(/; found after \d+ reads over \d\.\d s \(deadline 4 s\)$/);
    const read = ctx.evidence.events.find((e) => e.event.startsWith('audit records read'));
    const wait = read?.data?.wait as { reads: number; waitedMs: number; outcome: string };
    expect(wait.outcome).toBe('found');
    expect(wait.reads).toBeGreaterThan(1);
    expect(wait.waitedMs).toBeGreaterThanOrEqual(2400);
  });

  test('a removal never recorded fails once the deadline has passed, saying how long it waited', async () => {
    const { ctx, findings } = context(client, 'never');
    const dn = await group('never');
    expectAudit(ctx, { stage: 'grant', type: 'add', dn, by: 'the broker' });
    expectAudit(ctx, { stage: 'removal', type: 'delete', dn, by: 'the broker' });
    const started = Date.now();
    await auditScenario(ctx, 'judge', 2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(findings).toEqual([
      expect.objectContaining({ check: 'audit-trail', verdict: 'fail', detail: expect.stringMatching(/^missing from cn=accesslog, missing after \d+ reads over 2\.\d s \(deadline 2 s\): removal: delete /) }),
    ]);
  });

  test('a log that cannot be read is inconclusive, never a fail or a pass', async () => {
    const port = await freePort();
    const connection: TargetConnection = { ...(target?.connection ?? expect.unreachable('no target')) };
    const unreachable = connectLdap({ ...connection, settings: { ...connection.settings, url: `ldap://127.0.0.1:${port}`, timeoutMs: '1000' } });
    const { ctx, findings } = context(unreachable, 'dark');
    expectAudit(ctx, { stage: 'grant', type: 'add', dn: `cn=x,${client.layout.groupsDn}`, by: 'the broker' });
    expectAudit(ctx, { stage: 'removal', type: 'delete', dn: `cn=x,${client.layout.groupsDn}`, by: 'the broker' });
    await auditScenario(ctx, 'judge', 1);
    await unreachable.admin.close();
    expect(findings).toEqual([expect.objectContaining({ check: 'audit-trail', verdict: 'inconclusive', detail: expect.stringMatching(/^could not read the audit log at cn=accesslog: ECONNREFUSED.*unreachable after \d+ reads/) })]);
  });
});

describe('the record of a refresh', () => {
  test('is found whichever second the TTL is read back in: the log holds the TTL set, entryTtl a countdown', async () => {
    const { ctx, findings } = context(client, 'ttl');
    const dn = `cn=jitc-${runId}-ttl.grant,${client.layout.groupsDn}`;
    await client.admin.use((c) => c.add(dn, { objectClass: ['groupOfNames', 'dynamicObject'], cn: `jitc-${runId}-ttl.grant`, member: client.layout.emptyMember }));
    await client.admin.use((c) => refreshTtl(c, dn, 30));
    await new Promise((r) => setTimeout(r, 1100));
    // A second later the directory states 29 (or less): an expectation built on it would miss the record.
    expect((await lifetimeOf(client, dn)).ttlSeconds).toBeLessThan(30);
    expectAudit(ctx, { stage: 'grant', type: 'modify', dn, modPrefix: 'entryTtl:= ', by: 'the broker' });
    expectAudit(ctx, { stage: 'removal', type: 'delete', dn, by: 'the broker' });
    await client.admin.use((c) => c.del(dn));
    await auditScenario(ctx, 'judge', 2);
    expect(findings).toEqual([expect.objectContaining({ check: 'audit-trail', verdict: 'pass' })]);
    const read = ctx.evidence.events.find((e) => e.event.startsWith('audit records read'));
    expect(JSON.stringify(read?.data)).toContain('entryTtl:= 30');
  });
});
