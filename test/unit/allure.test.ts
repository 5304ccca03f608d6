/**
 * The Allure writer shows a check its target cannot evidence on the scenario's test: listed under
 * each of the check's controls, with a label and tag to filter on and a skipped step saying why,
 * and never as the test's own status.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RuntimeMessage } from 'allure-js-commons/sdk';
import { getGlobalTestRuntime, MessageHolderTestRuntime, setGlobalTestRuntime } from 'allure-js-commons/sdk/runtime';
import { reportResult } from '../../reports/writers/allure.ts';
import { loadCatalogue } from '../../scenarios/catalogue.ts';
import { checkResult, fakeResult } from '../support/fake-adapter.ts';

describe('the Allure test of a scenario with a check its target cannot evidence', () => {
  const runtime = new MessageHolderTestRuntime();
  let messages: RuntimeMessage[] = [];
  let before: ReturnType<typeof getGlobalTestRuntime>;
  beforeAll(async () => {
    before = getGlobalTestRuntime();
    setGlobalTestRuntime(runtime);
    const gap = fakeResult({ id: 'token-ttl-expiry', checks: [checkResult('no-residue', 'pass')] });
    gap.evidence.push({ at: '2026-01-01T00:00:00.000Z', phase: 'setup', event: 'audit-trail not evidenced on this target: no audit log is named', data: { notEvidenced: 'audit-trail' } });
    await reportResult(gap);
    messages = runtime.messages();
  });
  afterAll(() => setGlobalTestRuntime(before));

  const labels = (): { name: string; value: string }[] => messages.flatMap((m) => (m.type === 'metadata' ? (m.data.labels ?? []) : []));

  test('carries a notEvidenced label and a not-evidenced tag', () => {
    expect(labels()).toContainEqual({ name: 'notEvidenced', value: 'audit-trail' });
    expect(labels()).toContainEqual({ name: 'tag', value: 'not-evidenced' });
  });

  test("is listed under each of the check's controls", () => {
    const epics = labels().filter((l) => l.name === 'epic').map((l) => l.value.split(' ')[0]);
    for (const control of loadCatalogue().checks.get('audit-trail')!.controls) expect(epics).toContain(control);
  });

  test('says why in a skipped step, the only step not passed', () => {
    const started = messages.flatMap((m) => (m.type === 'step_start' ? [m.data.name] : []));
    const stopped = messages.flatMap((m) => (m.type === 'step_stop' ? [m.data.status] : []));
    expect(started).toContainEqual(expect.stringMatching(/^check audit-trail — not evidenced on this target \(.+\): audit-trail not evidenced on this target: no audit log is named$/));
    expect(stopped.filter((s) => s !== 'passed')).toEqual(['skipped']);
  });
});
