/**
 * Malformed gate rules (--fail-on, the config's gate.failOn), generated: a condition without an
 * operator, an unknown key, severity, control, check or adapter, the wrong operator, an empty
 * alternative, a key given twice, a rule of nothing — alone or among valid conditions. Each is
 * refused by parseGateRule in one line naming where the rule came from and the offending part:
 * a gate that silently matched nothing would let every failure through a deploy.
 */
import fc from 'fast-check';
import { describe, test } from 'vitest';
import { loadCatalogue } from '../../scenarios/catalogue.ts';
import { parseGateRule } from '../../reports/gate.ts';
import { malformedGateRule } from './malformed.ts';
import { inputErrorOf } from './one-line.ts';
import { expect } from 'vitest';

/** How many malformed rules are tried (the count the assurance report quotes). */
export const RUNS = 500;

describe('malformed gate rules are refused in one line naming the flag or config field and the offending part', () => {
  test(`--fail-on and gate.failOn rules (${RUNS} generated)`, async () => {
    const catalogue = loadCatalogue();
    const arbitrary = fc.tuple(malformedGateRule([...catalogue.controls.keys()], [...catalogue.checks.keys()]), fc.constantFrom('--fail-on', 'ci/jitc.yaml: gate.failOn.0', 'jitc.yaml: gate.failOn.3'));
    await fc.assert(
      fc.asyncProperty(arbitrary, async ([bad, where]) => {
        const what = `${bad.what} in rule ${JSON.stringify(bad.rule)}`;
        const message = await inputErrorOf(() => parseGateRule(bad.rule, where), what);
        expect(message.includes('\n'), what).toBe(false);
        expect(message.startsWith(`${where}: `), `${what}\n  got: ${message}`).toBe(true);
        expect(message.slice(where.length + 2), `${what}\n  got: ${message}`).toContain(bad.names);
      }),
      { numRuns: RUNS },
    );
  });
});
