/**
 * `context-bound`, judged by the engine: a credential bound to its context must be refused by the
 * target from every other address while the grant lives, and still let in from the bound one right
 * after; anything the target did not clearly say is doubt, and a use allowed from elsewhere is a
 * fail whatever else was seen. The scenario file's `context` is checked at the edge.
 */
import { describe, expect, test } from 'vitest';
import type { DriftAttempt, ProbeOutcome, ProbeResult } from '../../adapters/contract.ts';
import { judgeDrift, type Tried } from '../../scenarios/drift.ts';
import { runScenario } from '../../scenarios/engine.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { type ContextSpec, contextSchema, type Scenario } from '../../scenarios/schema.ts';
import { answer, type FakeScript, fakeScenario, fakeTarget } from '../support/fake-adapter.ts';

const SPEC: ContextSpec = { boundTo: '127.0.0.1/32', from: '127.0.0.1', driftFrom: ['127.0.0.2'] };

/** What the fake target answers from each source address, or throws. */
type Answers = Record<string, ProbeOutcome | Error>;

interface Run {
  result: ScenarioResult;
  /** Source addresses in the order they were tried, with the engine's step just before. */
  tried: string[];
  steps: string[];
}

async function run(answers: Answers | undefined, scenario: Partial<Scenario> = { context: SPEC }, script: FakeScript = {}): Promise<Run> {
  const target = fakeTarget(script);
  const tried: string[] = [];
  if (answers) {
    target.adapter.pointsOfUse.scripted!.drifted = (_ctx, _credential, from): DriftAttempt[] => [
      {
        name: 'read the task secret',
        context: from,
        attempt: async (): Promise<ProbeResult> => {
          tried.push(from);
          const scripted = answers[from] ?? 'unknown';
          if (scripted instanceof Error) throw scripted;
          return answer(scripted, scripted === 'denied' ? 'HTTP 403 permission denied' : undefined);
        },
      },
    ];
  }
  const result = await runScenario(fakeScenario(scenario), { runId: 'tdrift1', targets: target.targets, signal: new AbortController().signal });
  return { result, tried, steps: target.steps() };
}

function contextBound(result: ScenarioResult) {
  const found = result.checks.filter((c) => c.name === 'context-bound');
  expect(found, result.checks.map((c) => c.name).join(', ')).toHaveLength(1);
  return found[0]!;
}

describe.concurrent('the engine tries a bound credential from elsewhere', () => {
  test('refused from 127.0.0.2 and still let in from 127.0.0.1 right after passes, both tried inside the window before the end', async () => {
    const { result, tried, steps } = await run({ '127.0.0.2': 'denied', '127.0.0.1': 'allowed' });
    expect(contextBound(result)).toMatchObject({ verdict: 'pass', severity: 'high', controls: expect.arrayContaining(['NIST-800-207-T4', 'OWASP-NHI-03']) });
    expect(contextBound(result).detail).toMatch(/^refused outside 127\.0\.0\.1\/32: read the task secret from 127\.0\.0\.2: denied \(HTTP 403 permission denied\); still let in from the bound context right after: read the task secret from 127\.0\.0\.1: allowed/);
    expect(tried).toEqual(['127.0.0.2', '127.0.0.1']);
    expect(steps.indexOf('use')).toBeLessThan(steps.indexOf('end'));
    const events = result.evidence.filter((e) => e.event.startsWith('credential used from'));
    expect(events.map((e) => [e.phase, e.data?.sourceAddress, e.data?.outcome])).toEqual([
      ['use', '127.0.0.2', 'denied'],
      ['use', '127.0.0.1', 'allowed'],
    ]);
  });

  test('a credential allowed from 127.0.0.2 is reported fail, naming the address', async () => {
    const { result } = await run({ '127.0.0.2': 'allowed', '127.0.0.1': 'allowed' });
    expect(result.verdict).toBe('fail');
    expect(contextBound(result)).toMatchObject({ verdict: 'fail', detail: expect.stringMatching(/worked from another context: read the task secret from 127\.0\.0\.2: allowed/) });
  });

  test('refused from 127.0.0.2 but refused from 127.0.0.1 too is inconclusive: the credential may simply be dead', async () => {
    const { result } = await run({ '127.0.0.2': 'denied', '127.0.0.1': 'denied' });
    expect(contextBound(result)).toMatchObject({ verdict: 'inconclusive', detail: expect.stringMatching(/the bound context was not let in right after .* may be the credential's end, not its binding/) });
  });

  test('an unreadable answer from 127.0.0.2, or an attempt that throws, is inconclusive, never a pass', async () => {
    expect(contextBound((await run({ '127.0.0.2': 'unknown', '127.0.0.1': 'allowed' })).result).verdict).toBe('inconclusive');
    const thrown = await run({ '127.0.0.2': new Error('connect EADDRNOTAVAIL 127.0.0.2'), '127.0.0.1': 'allowed' });
    expect(contextBound(thrown.result)).toMatchObject({ verdict: 'inconclusive', detail: expect.stringContaining('EADDRNOTAVAIL') });
  });

  test('a point of use that cannot use a credential from elsewhere leaves the check inconclusive: not evidenced on this target', async () => {
    const { result } = await run(undefined);
    expect(contextBound(result)).toMatchObject({ verdict: 'inconclusive', detail: expect.stringMatching(/^not evidenced on this target: fake\/scripted cannot use a credential/) });
  });

  test('a grant that never worked is not tried from elsewhere: a refusal would prove nothing', async () => {
    const { result, tried } = await run({ '127.0.0.2': 'denied', '127.0.0.1': 'denied' }, { context: SPEC }, { use: 'denied' });
    expect(tried).toEqual([]);
    expect(contextBound(result)).toMatchObject({ verdict: 'inconclusive', detail: expect.stringMatching(/^not tested: the grant never worked/) });
  });

  test('a scenario that names no context is neither tried from elsewhere nor judged on it', async () => {
    const { result, tried } = await run({ '127.0.0.2': 'allowed' }, {});
    expect(tried).toEqual([]);
    expect(result.checks.map((c) => c.name)).not.toContain('context-bound');
  });

  test('every drifted address is tried, and one allowed among refusals fails', async () => {
    const { result, tried } = await run({ '127.0.0.2': 'denied', '127.0.0.3': 'allowed', '127.0.0.1': 'allowed' }, { context: { ...SPEC, driftFrom: ['127.0.0.2', '127.0.0.3'] } });
    expect(tried).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.1']);
    expect(contextBound(result)).toMatchObject({ verdict: 'fail', detail: expect.stringContaining('from 127.0.0.3: allowed') });
  });
});

describe('the judge alone', () => {
  const tried = (context: string, outcome: ProbeOutcome): Tried => ({ name: 'read', context, outcome, at: new Date().toISOString(), detail: outcome });

  test('no attempt from elsewhere is not evidenced, whatever the bound context said', () => {
    expect(judgeDrift([], [tried('127.0.0.1', 'allowed')], SPEC)).toMatchObject({ verdict: 'inconclusive', detail: expect.stringMatching(/^not evidenced on this target/) });
  });

  test('a refusal with nothing tried from the bound context is inconclusive', () => {
    expect(judgeDrift([tried('127.0.0.2', 'denied')], [], SPEC).verdict).toBe('inconclusive');
  });

  test('allowed from elsewhere fails even when another attempt could not be read', () => {
    expect(judgeDrift([tried('127.0.0.2', 'unknown'), tried('127.0.0.3', 'allowed')], [tried('127.0.0.1', 'unknown')], SPEC).verdict).toBe('fail');
  });
});

describe('a scenario names its context', () => {
  const parse = (raw: unknown) => contextSchema.safeParse(raw);

  test('one host bound: the bound probe leaves from it, and one drifted address becomes a list', () => {
    expect(parse({ boundTo: '127.0.0.1/32', driftFrom: '127.0.0.2' })).toMatchObject({ success: true, data: SPEC });
  });

  test('a drifted address inside the bound range is refused: the binding admits it', () => {
    const parsed = parse({ boundTo: '127.0.0.0/8', from: '127.0.0.1', driftFrom: ['127.0.0.2'] });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]).toMatchObject({ path: ['driftFrom', 0], message: expect.stringMatching(/inside boundTo 127\.0\.0\.0\/8/) });
  });

  test('a range needs the address the bound probe leaves from, inside it', () => {
    expect(parse({ boundTo: '10.0.0.0/24', driftFrom: '127.0.0.2' }).error?.issues[0]).toMatchObject({ path: ['from'], message: expect.stringMatching(/^required when boundTo is a range/) });
    expect(parse({ boundTo: '10.0.0.0/24', from: '127.0.0.1', driftFrom: '127.0.0.2' }).error?.issues[0]).toMatchObject({ path: ['from'], message: '127.0.0.1 is not inside boundTo 10.0.0.0/24' });
    expect(parse({ boundTo: '10.0.0.0/24', from: '10.0.0.7', driftFrom: '127.0.0.2' })).toMatchObject({ success: true, data: { from: '10.0.0.7' } });
  });

  test('an address of the other family is outside the range; something that is no address is refused', () => {
    expect(parse({ boundTo: '127.0.0.1/32', driftFrom: '::1' }).success).toBe(true);
    expect(parse({ boundTo: '127.0.0.1/32', driftFrom: 'localhost' }).success).toBe(false);
    expect(parse({ boundTo: '127.0.0.1', driftFrom: '127.0.0.2' }).success).toBe(false);
  });
});
