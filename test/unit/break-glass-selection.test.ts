/**
 * Which runs take break-glass scenarios without naming them: their grants are emergency uses that
 * may page people, so only a one-shot run against the embedded local targets takes them by default.
 */
import { describe, expect, test } from 'vitest';
import { takesBreakGlass } from '../../cli/run.ts';

describe('break-glass scenarios in a run', () => {
  test('a one-shot run against the local targets takes them', () => {
    expect(takesBreakGlass({}, 'local')).toBe(true);
  });

  test('a continuous run (--every) leaves them out, even on local targets', () => {
    expect(takesBreakGlass({ continuous: true }, 'local')).toBe(false);
  });

  test('a run against container or external targets leaves them out', () => {
    expect(takesBreakGlass({}, 'external')).toBe(false);
    expect(takesBreakGlass({}, 'container')).toBe(false);
  });

  test('--break-glass takes them everywhere, continuous mode included', () => {
    expect(takesBreakGlass({ breakGlass: true, continuous: true }, 'external')).toBe(true);
    expect(takesBreakGlass({ breakGlass: true }, 'container')).toBe(true);
  });
});
