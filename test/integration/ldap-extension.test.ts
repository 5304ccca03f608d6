/**
 * What the holder of an LDAP bind can do to its own grant, tried against a real slapd: the
 * conformant ACL refuses every attempt with the directory's own result code; the "self-service"
 * subtree, whose ACL lets an entry (and a group's members) manage entryTtl, lets the holder stretch
 * its grant to a day, and the attempt says until when. Also: every credential probe opens its own
 * connection, and a probe given a node goes to that node.
 */
import { Attribute, Change } from 'ldapts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Adapter, StartedTarget } from '../../adapters/contract.ts';
import type { LdapClient } from '../../adapters/ldap/client.ts';
import { refreshTtl } from '../../adapters/ldap/dynamic-objects.ts';
import { bindExtensions, type BindGrant, type Holder } from '../../adapters/ldap/extension.ts';
import { newPassword, sshaHash } from '../../adapters/ldap/passwords.ts';
import { bindAndRead, lookupEntry } from '../../adapters/ldap/probes.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { testRunId } from '../support/run-id.ts';
import { CountingRelay } from '../support/counting-relay.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const runId = testRunId();
let target: StartedTarget | undefined;
let adapter: Adapter<LdapClient>;
let client: LdapClient;
let counter = 0;

const cnOf = (dn: string): string => /^cn=([^,]+)/.exec(dn)?.[1] ?? '';

/** A bindable account (dynamic or not) under `base`, with a TTL set by the broker. */
async function account(base: string, ttlSeconds: number | null): Promise<Holder> {
  const dn = `cn=jitc-${runId}-ext.${++counter},${base}`;
  const password = newPassword();
  await client.admin.use((c) =>
    c.add(dn, {
      objectClass: ['applicationProcess', 'simpleSecurityObject', ...(ttlSeconds === null ? [] : ['dynamicObject'])],
      cn: cnOf(dn),
      userPassword: sshaHash(password),
    }),
  );
  if (ttlSeconds !== null) await client.admin.use((c) => refreshTtl(c, dn, ttlSeconds));
  return { dn, password };
}

/** A dynamic group holding `member`, made a member of the grant group, under `base`. */
async function dynamicGrantGroup(base: string, member: string, ttlSeconds: number): Promise<string> {
  const dn = `cn=jitc-${runId}-ext.${++counter},${base}`;
  await client.admin.use((c) => c.add(dn, { objectClass: ['groupOfNames', 'dynamicObject'], cn: cnOf(dn), member }));
  await client.admin.use((c) => refreshTtl(c, dn, ttlSeconds));
  await client.admin.use((c) => c.modify(client.layout.grantGroupDn, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [dn] }) })));
  return dn;
}

function grantFor(holder: Holder, extra: Partial<BindGrant> = {}): BindGrant {
  return { holder, windowEndsAt: Date.now() + 30_000, ownEntryDynamic: true, dynamicGroups: [], ...extra };
}

const oneAttempt = async (grant: BindGrant, moment: 'inside-window' | 'after-end' = 'inside-window') => {
  const attempts = bindExtensions(client, grant);
  expect(attempts).toHaveLength(1);
  return attempts[0]!.attempt(moment);
};

beforeAll(async () => {
  adapter = (await getAdapter('ldap')) as Adapter<LdapClient>;
  [target] = await bringUp([adapter], { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
  if (!target) throw new Error('the local slapd did not start');
  client = await adapter.connect(target.connection);
}, 60_000);

afterAll(async () => {
  if (client) {
    const sweep = await adapter.cleanup(client, runId);
    expect(sweep.failed).toEqual([]);
    await adapter.disconnect?.(client);
  }
  await target?.stop();
});

describe('a temporary account stretching itself (RFC 2589 refresh of its own entry)', () => {
  test('the conformant ACL refuses it with insufficientAccessRights, and the TTL stays as granted', async () => {
    const holder = await account(client.layout.accountsDn, 30);
    const result = await oneAttempt(grantFor(holder));
    expect(result).toMatchObject({ outcome: 'refused' });
    expect(result.detail).toMatch(/insufficientAccessRights \(50\)$/);
    const ttl = await client.admin.search(holder.dn, { scope: 'base', attributes: ['entryTtl'] });
    expect(Number(ttl.searchEntries[0]?.entryTtl)).toBeLessThanOrEqual(30);
  });

  test('where the ACL lets an entry manage its own entryTtl, it refreshes itself to a day and says until when', async () => {
    const holder = await account(client.layout.selfServiceDn ?? expect.unreachable('no self-service subtree'), 30);
    const before = Date.now();
    const result = await oneAttempt(grantFor(holder));
    expect(result.outcome, result.detail).toBe('extended');
    const reaches = Date.parse(result.reachesUntil ?? expect.unreachable('no stated end'));
    expect(reaches - before).toBeGreaterThan(86_000_000);
  });

  test('an ask above the directory\'s maximum TTL (sizeLimitExceeded) is followed by one just past the window', async () => {
    const holder = await account(client.layout.selfServiceDn ?? expect.unreachable('no self-service subtree'), 30);
    // A window ending in 86300 s: the first ask (an hour past it) exceeds slapd's one-day maximum.
    const result = await oneAttempt(grantFor(holder, { windowEndsAt: Date.now() + 86_300_000 }));
    expect(result.outcome, result.detail).toBe('extended');
    expect(result.detail).toMatch(/accepted a refresh to 863\d\d s \(89900 s was too large for it\)$/);
  });

  test('after the account expired, bringing it back is refused at the bind (invalidCredentials)', async () => {
    const holder = await account(client.layout.selfServiceDn ?? expect.unreachable('no self-service subtree'), 1);
    // dds reaps every second; the account is gone within a few.
    for (let i = 0; i < 50; i++) {
      const probe = await lookupEntry(() => client.openBroker(), holder.dn);
      if (probe.outcome === 'denied') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const result = await oneAttempt(grantFor(holder, { windowEndsAt: Date.now() - 1000 }), 'after-end');
    expect(result).toMatchObject({ outcome: 'refused' });
    expect(result.detail).toMatch(/bind is refused, invalidCredentials \(49\)$/);
  });

  test('a directory that cannot be reached makes the attempt unknown, never refused', async () => {
    const holder = await account(client.layout.accountsDn, 30);
    const relay = new CountingRelay(1);
    const { url } = await relay.start();
    const away: LdapClient = { ...client, open: () => client.open(url) };
    const result = await bindExtensions(away, grantFor(holder))[0]!.attempt('inside-window');
    await relay.stop();
    expect(result.outcome).toBe('unknown');
  });
});

describe('a requester stretching its membership', () => {
  test('the conformant ACL refuses both the grant group refresh and the membership write', async () => {
    const holder = await account(client.layout.accountsDn, null);
    const group = await dynamicGrantGroup(client.layout.groupsDn, holder.dn, 30);
    const attempts = bindExtensions(client, grantFor(holder, { ownEntryDynamic: false, dynamicGroups: [group], grantGroups: [client.layout.grantGroupDn, client.layout.grantGroupDn] }));
    expect(attempts.map((a) => a.name)).toEqual([
      'refresh the grant group entryTtl (RFC 2589) past the window',
      `write itself into ${client.layout.grantGroupDn} as a plain member value`,
    ]);
    for (const attempt of attempts) {
      const result = await attempt.attempt('inside-window');
      expect(result.outcome, result.detail).toBe('refused');
      expect(result.detail).toMatch(/insufficientAccessRights \(50\)$/);
    }
  });

  test('where the ACL lets a group’s members manage its entryTtl, the requester refreshes its grant group past the window', async () => {
    const holder = await account(client.layout.accountsDn, null);
    const group = await dynamicGrantGroup(client.layout.selfServiceDn ?? expect.unreachable('no self-service subtree'), holder.dn, 30);
    const result = await oneAttempt(grantFor(holder, { ownEntryDynamic: false, dynamicGroups: [group] }));
    expect(result.outcome, result.detail).toBe('extended');
    expect(Date.parse(result.reachesUntil ?? '')).toBeGreaterThan(Date.now() + 86_000_000);
  });

  test('after the broker deleted the grant group, refreshing it is refused: noSuchObject', async () => {
    const holder = await account(client.layout.accountsDn, null);
    const group = await dynamicGrantGroup(client.layout.selfServiceDn ?? expect.unreachable('no self-service subtree'), holder.dn, 30);
    await client.admin.use((c) => c.modify(client.layout.grantGroupDn, new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [group] }) })));
    await client.admin.use((c) => c.del(group));
    const result = await oneAttempt(grantFor(holder, { ownEntryDynamic: false, dynamicGroups: [group] }), 'after-end');
    expect(result).toMatchObject({ outcome: 'refused' });
    expect(result.detail).toMatch(/noSuchObject \(32\)$/);
  });
});

describe('probes reach the directory on connections of their own', () => {
  test('every credential probe opens a new connection, and a probe given a node goes to that node', async () => {
    const holder = await account(client.layout.accountsDn, 30);
    const relay = new CountingRelay(Number(new URL(client.settings.url).port));
    const { url: node } = await relay.start();
    try {
      const target = { dn: client.layout.resourceDn, attribute: client.layout.resourceAttribute };
      for (let i = 0; i < 3; i++) {
        const read = await bindAndRead(() => client.open(node), holder.dn, holder.password, target);
        expect(read.outcome, read.detail).toBe('denied');
      }
      expect(relay.accepted).toBe(3);
      const looked = await lookupEntry(() => client.openBroker(node), holder.dn);
      expect(looked.outcome).toBe('allowed');
      expect(relay.accepted).toBe(4);
    } finally {
      await relay.stop();
    }
  });

  test('a broker that cannot reach the node leaves the lookup unknown, not denied', async () => {
    const relay = new CountingRelay(1);
    const { url: node } = await relay.start();
    const looked = await lookupEntry(() => client.openBroker(node), `cn=anything,${client.layout.accountsDn}`);
    await relay.stop();
    expect(looked.outcome).toBe('unknown');
    expect(looked.detail).toMatch(/^the broker could not bind/);
  });
});
