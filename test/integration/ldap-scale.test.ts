/**
 * A directory scenario's cost does not grow with what else the directory holds: the LDAP messages
 * `temporary-group-membership` exchanges with a real slapd, counted on the wire by operation, are
 * the same on the embedded directory as it starts and once it holds thousands of unrelated
 * accounts, groups and members of the very group the grant uses. A search that read the tree
 * (residue by listing, say) would show as thousands more SearchResultEntry messages.
 */
import { setMaxListeners } from 'node:events';
import { Attribute, Change, Client } from 'ldapts';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Adapter, StartedTarget } from '../../adapters/contract.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import type { LdapClient } from '../../adapters/ldap/client.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { targetsOf } from '../support/bound.ts';
import { CountingRelay } from '../support/counting-relay.ts';
import { LdapMessageCounter } from '../support/ldap-messages.ts';
import { testRunId } from '../support/run-id.ts';

const ACCOUNTS = 2000;
const GROUPS = 200;
/** Unrelated members put in the grant's own group: a production group is rarely empty. */
const GROUP_MEMBERS = 500;
/**
 * The reuse poll probes until a denial has held through the confirmation window, with backoff by
 * the clock, and the session checks repeat until they hold: how many reads (binds, searches,
 * compares, the connection's own extended operations) follows latency, not the directory's size.
 */
const TIMED_SLACK = 3;

let target: StartedTarget | undefined;
let relay: CountingRelay | undefined;
const counter = new LdapMessageCounter();
const runs: { label: string; result: ScenarioResult; messages: string[]; ms: number }[] = [];

/** Accounts and groups nobody's scenario knows, and members of the grant group: added as the directory's manager. */
async function preload(settings: Record<string, string>): Promise<number> {
  const started = performance.now();
  const admin = new Client({ url: settings.url! });
  await admin.bind(settings.bindDn!, settings.password!);
  const limit = pLimit(16);
  const account = (i: number): string => `uid=unrelated-${i},${settings.accountsDn}`;
  try {
    await Promise.all(
      Array.from({ length: ACCOUNTS }, (_, i) =>
        limit(() => admin.add(account(i), { objectClass: ['inetOrgPerson'], uid: `unrelated-${i}`, cn: `unrelated ${i}`, sn: 'unrelated' })),
      ),
    );
    await Promise.all(
      Array.from({ length: GROUPS }, (_, g) =>
        limit(() => admin.add(`cn=unrelated-${g},${settings.groupsDn}`, { objectClass: ['groupOfNames'], cn: `unrelated-${g}`, member: Array.from({ length: 10 }, (_, m) => account((g * 10 + m) % ACCOUNTS)) })),
      ),
    );
    const members = new Attribute({ type: 'member', values: Array.from({ length: GROUP_MEMBERS }, (_, i) => account(i)) });
    await admin.modify(settings.grantGroupDn!, [new Change({ operation: 'add', modification: members })]);
  } finally {
    await admin.unbind();
  }
  return performance.now() - started;
}

beforeAll(async () => {
  const adapter = (await getAdapter('ldap')) as Adapter<LdapClient>;
  const runId = testRunId();
  [target] = await bringUp([adapter], { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
  if (!target) throw new Error('the local slapd did not start');
  const settings = target.connection.settings;
  relay = await new CountingRelay(Number(new URL(settings.url ?? '').port), counter.tap).start();
  const connection = { ...target.connection, address: relay.url, settings: { ...settings, url: relay.url } };
  const client = await adapter.connect(connection);
  const base = (await loadBuiltinScenarios(['ldap'])).find((s) => s.id === 'temporary-group-membership') ?? expect.unreachable('no temporary-group-membership');
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  const once = async (label: string): Promise<void> => {
    const before = counter.messages.length;
    const started = performance.now();
    const result = await runScenario({ ...base, id: `${base.id}-${label}` }, { runId, targets: targetsOf({ adapter, client, connection }), signal });
    runs.push({ label, result, messages: counter.messages.slice(before), ms: performance.now() - started });
  };
  try {
    await once('empty');
    const preloadMs = await preload(settings);
    console.log(`[ldap-scale] ${ACCOUNTS} accounts, ${GROUPS} groups and ${GROUP_MEMBERS} members of the grant group added in ${(preloadMs / 1000).toFixed(1)} s`);
    // The trail's start is the newest record of the directory's last two seconds, from the whole
    // second before (adapters/ldap/audit.ts): what it reads follows how busy the directory is right
    // now, which this test does not measure, not its size. The preload's own writes must age out first.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    await once('loaded');
  } finally {
    await adapter.disconnect?.(client);
  }
}, 240_000);

afterAll(async () => {
  await relay?.stop();
  await target?.stop();
});

/** Writes: what the scenario changes on the directory, the same whatever it holds. Every other message is a read. */
const WRITES = new Set(['addRequest', 'addResponse', 'modifyRequest', 'modifyResponse', 'delRequest', 'delResponse', 'modDNRequest', 'modDNResponse']);

describe(`a directory scenario's LDAP messages do not grow with ${ACCOUNTS} unrelated accounts and ${GROUPS} groups`, () => {
  test('the scenario passes on both directories', () => {
    for (const run of runs) expect(run.result.verdict, `${run.label}: ${run.result.checks.map((c) => `${c.name}=${c.verdict} ${c.detail}`).join('\n')}`).toBe('pass');
  });

  test(`the writes are the same, each kind of read within ±${TIMED_SLACK}, and no search answers the directory's bulk`, () => {
    const [empty, loaded] = runs;
    if (!empty || !loaded) return expect.unreachable('both runs');
    const tally = (messages: string[]): Record<string, number> => Object.fromEntries([...new Set(messages)].sort().map((op) => [op, messages.filter((m) => m === op).length]));
    const summary = runs.map((r) => `${r.label}: ${r.messages.length} messages ${JSON.stringify(tally(r.messages))} in ${(r.ms / 1000).toFixed(2)} s`).join('; ');
    console.log(`[ldap-scale] ${summary}`);
    const a = tally(empty.messages);
    const b = tally(loaded.messages);
    for (const op of new Set([...Object.keys(a), ...Object.keys(b)])) {
      // Entries answered also count the log's last seconds read at the trail's start, which hold more
      // or fewer of the scenario's own setup writes as the setup ran faster or slower: a quarter, not thousands.
      const slack = WRITES.has(op) ? 0 : op === 'searchResEntry' ? Math.max(TIMED_SLACK, Math.ceil((a[op] ?? 0) / 4)) : TIMED_SLACK;
      expect(Math.abs((a[op] ?? 0) - (b[op] ?? 0)), `${op}: ${summary}`).toBeLessThanOrEqual(slack);
    }
    // Each search the scenario made answered at most a few entries, on either directory.
    expect(b.searchResEntry ?? 0, summary).toBeLessThan(ACCOUNTS / 20);
  });
});
