/**
 * What a broker says it made for a task: the answer's `made` field as the contract allows it, and
 * how the brokered source turns a look-up of each object on the point of use's target into
 * residue — present is left, gone is not, unknown is never gone — with a look-up scripted in-process.
 */
import { z } from 'zod';
import { describe, expect, test } from 'vitest';
import { answerJsonSchema, requestAnswerSchema } from '../../adapters/broker/answers.ts';
import { brokeredSource, brokerParams } from '../../adapters/broker/brokered.ts';
import type { BrokerHooks } from '../../adapters/broker/hooks.ts';
import type { Adapter, EndMode, Finding, GrantContext, LookUpResult, PointOfUse, TargetConnection } from '../../adapters/contract.ts';
import { halfContexts } from '../../scenarios/engine.ts';
import { Evidence } from '../../scenarios/evidence.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';

const ANSWER = { requestId: 'REQ-1', approver: 'change-bot', approvedAt: '2026-12-01T10:00:00Z', expiresAt: '2026-12-01T10:00:30Z' };
const ROLE = 'arn:aws:iam::123456789012:role/jitc-r1-s.broker-role';
const FOUND: LookUpResult = { state: 'present', detail: 'GetRole: found' };
const GONE: LookUpResult = { state: 'gone', detail: 'NoSuchEntity' };
/** A target that holds each object until the broker is asked to end, and removes it then. */
const removedAtEnd = (_ref: string, endAsked: boolean): LookUpResult => (endAsked ? GONE : FOUND);

describe('the request answer', () => {
  test('names what the broker made as up to 50 references of up to 1000 characters', () => {
    expect(requestAnswerSchema.safeParse({ ...ANSWER, made: [ROLE, 'sys/policies/acl/jitc-r1-s'] }).success).toBe(true);
    expect(requestAnswerSchema.safeParse({ ...ANSWER, made: [] }).success).toBe(true);
    expect(requestAnswerSchema.safeParse(ANSWER).success).toBe(true);
    expect(requestAnswerSchema.safeParse({ ...ANSWER, made: Array.from({ length: 50 }, (_, i) => `x${i}`) }).success).toBe(true);
    expect(requestAnswerSchema.safeParse({ ...ANSWER, made: ['x'.repeat(1000)] }).success).toBe(true);
  });

  test('refuses more than 50, a longer or empty reference, and anything but strings', () => {
    for (const made of [Array.from({ length: 51 }, (_, i) => `x${i}`), ['x'.repeat(1001)], [''], [42], ROLE, [{ arn: ROLE }]]) {
      expect(requestAnswerSchema.safeParse({ ...ANSWER, made }).success, JSON.stringify(made).slice(0, 40)).toBe(false);
    }
  });

  test('and its JSON Schema says the same', () => {
    const made = (answerJsonSchema() as { $defs: { request: { properties: { made: unknown } } } }).$defs.request.properties.made;
    expect(made).toMatchObject({ type: 'array', maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 1000 } });
  });
});

const CONNECTION: TargetConnection = { adapter: 'fake', mode: 'local', address: 'fake://', settings: {}, secretSettings: [], facts: {} };

type BrokerCtx = GrantContext<z.infer<typeof brokerParams>, Record<string, never>>;

/**
 * A brokered source whose broker answers `made`, driven by hand against a point of use whose
 * target looks objects up with `lookUp` (absent: it has none), told whether the broker was asked to end.
 */
async function brokered(made: string[], lookUp: ((ref: string, endAsked: boolean) => LookUpResult) | undefined, endMode: EndMode) {
  const findings: Finding[] = [];
  const asked: string[] = [];
  let task = 0;
  let endAsked = false;
  const hooks: BrokerHooks = {
    describe: 'in-process broker',
    request: async () => ({ ...ANSWER, requestId: `REQ-${++task}`, credential: { type: 'bearer-token', token: `token-${task}` }, made: made.map((m) => `${m}${task === 1 ? '' : '-2'}`) }),
    end: async () => ((endAsked = true), { ended: true }),
  };
  const source = brokeredSource({ title: 'in-process', params: brokerParams, hooks: () => hooks, renews: () => false });
  const adapter = { name: 'fake', ...(lookUp ? { lookUp: async (_client: unknown, ref: string) => (asked.push(ref), lookUp(ref, endAsked)) } : {}) } as unknown as Adapter;
  const point = { probe: async () => ({ outcome: 'allowed', at: new Date().toISOString(), detail: 'ok' }) } as unknown as PointOfUse;
  const secrets = new SecretRegistry();
  const { grantCtx } = halfContexts(
    { id: 's', dir: '.', task: { windowSeconds: 30, approver: 'change-bot', needs: [] }, grant: { adapter: 'broker', name: 'exec', params: {} }, use: { adapter: 'fake', name: 'p', params: {} } } as never,
    { point, pointName: 'fake/p', useTarget: { adapter, client: {}, connection: CONNECTION }, grantTarget: { adapter, client: {}, connection: CONNECTION } },
    { runId: 'r1', evidence: new Evidence(secrets), secrets, signal: new AbortController().signal, report: (f) => void (f.check === 'no-residue' && findings.push(f)) },
  );
  const ctx = { ...grantCtx, params: brokerParams.parse({ credential: 'bearer-token' }) } as BrokerCtx;
  await source.setup(ctx);
  const baseline = await source.entitlements(ctx);
  const grant = await source.request(ctx);
  const beforeEnd = await source.entitlements(ctx);
  await source.end(ctx, grant, endMode);
  const afterEnd = await source.entitlements(ctx);
  return { source, ctx, findings, asked, baseline, beforeEnd, afterEnd };
}

describe('what the broker made, after the end (revoke)', () => {
  test('an object the target still holds is residue; one it says is gone is not; neither shows before the end', async () => {
    const r = await brokered([ROLE, 'sys/policies/acl/p'], (ref, endAsked) => (ref.startsWith('arn:') || !endAsked ? FOUND : { state: 'gone', detail: 'HTTP 404' }), 'revoke');
    expect(r.baseline).toEqual([]);
    expect(r.beforeEnd).toEqual([]);
    // Both tasks' objects, the second task's too.
    expect(r.afterEnd).toEqual([`broker-made ${ROLE}`, `broker-made ${ROLE}-2`]);
    // Each once while the tasks held their grants (before the end), and once after it.
    const each = [ROLE, 'sys/policies/acl/p', `${ROLE}-2`, 'sys/policies/acl/p-2'];
    expect(r.asked).toEqual([...each, ...each]);
    expect(r.ctx.evidence.events.filter((e) => /looked up while task .* held its grant: all shown$/.test(e.event))).toHaveLength(2);
  });

  test('an object the target does not answer for stays as unreadable, never gone', async () => {
    const r = await brokered([ROLE], () => ({ state: 'unknown', detail: 'GetRole: no answer: ECONNREFUSED' }), 'revoke');
    expect(r.afterEnd).toEqual([`unreadable broker-made ${ROLE} (GetRole: no answer: ECONNREFUSED)`, `unreadable broker-made ${ROLE}-2 (GetRole: no answer: ECONNREFUSED)`]);
  });

  test('on a target without a look-up every object is unreadable, naming the target', async () => {
    const r = await brokered([ROLE], undefined, 'revoke');
    expect(r.afterEnd[0]).toBe(`unreadable broker-made ${ROLE} (the fake target offers no look-up of named objects)`);
  });

  test('all gone: nothing is left, and teardown asks no more', async () => {
    const r = await brokered([ROLE], removedAtEnd, 'revoke');
    expect(r.afterEnd).toEqual([]);
    const looked = r.asked.length;
    await r.source.teardown(r.ctx);
    expect(r.asked.length).toBe(looked);
    expect(r.findings).toEqual([]);
  });

  test('gone after the end counts only for an object the target showed while the task held it: otherwise it is unreadable', async () => {
    // A look-up that cannot see the object (a replica without it, an ACL hiding it, a misnamed ref) says gone throughout.
    const r = await brokered([ROLE], () => GONE, 'revoke');
    const unseen = `(gone after the end, but the target did not show it while the task held its grant either (gone: NoSuchEntity): its absence proves nothing)`;
    expect(r.afterEnd).toEqual([`unreadable broker-made ${ROLE} ${unseen}`, `unreadable broker-made ${ROLE}-2 ${unseen}`]);
    expect(r.ctx.evidence.events.some((e) => e.event.endsWith(`held its grant: NOT shown: ${ROLE}`))).toBe(true);
  });

  test('a broker that names nothing made is never looked up', async () => {
    const r = await brokered([], () => expect.unreachable('looked up'), 'revoke');
    expect(r.afterEnd).toEqual([]);
  });
});

describe('what the broker made, for a grant left to expire', () => {
  test('is not residue before its end, which teardown asks for; what that end leaves fails no-residue', async () => {
    const r = await brokered([ROLE], () => FOUND, 'expire');
    expect(r.afterEnd).toEqual([]);
    await r.source.teardown(r.ctx);
    expect(r.findings).toEqual([{ check: 'no-residue', verdict: 'fail', detail: expect.stringMatching(/^manual cleanup needed: the broker's end, asked at teardown, left broker-made arn:/) }]);
  }, 15_000);

  test('unanswered after that end is inconclusive; gone is no finding', async () => {
    const unknown = await brokered([ROLE], () => ({ state: 'unknown', detail: 'HTTP 503' }), 'expire');
    await unknown.source.teardown(unknown.ctx);
    expect(unknown.findings).toEqual([{ check: 'no-residue', verdict: 'inconclusive', detail: expect.stringMatching(/could not be judged on the target: unreadable broker-made arn:.* \(HTTP 503\)/) }]);
    const gone = await brokered([ROLE], removedAtEnd, 'expire');
    await gone.source.teardown(gone.ctx);
    expect(gone.findings).toEqual([]);
    expect(gone.ctx.evidence.events.some((e) => /looked up after its end at teardown: all gone/.test(e.event))).toBe(true);
  }, 15_000);

  test('gone at teardown, never having been shown while held, is inconclusive, not a pass', async () => {
    const r = await brokered([ROLE], () => GONE, 'expire');
    await r.source.teardown(r.ctx);
    expect(r.findings).toEqual([{ check: 'no-residue', verdict: 'inconclusive', detail: expect.stringMatching(/could not be judged .* did not show it while the task held its grant either/) }]);
  }, 15_000);
});
