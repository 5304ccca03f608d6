/**
 * Names the harness gives things in a database stay whole (PostgreSQL silently cuts identifiers at
 * 63 bytes), keep the run prefix a sweep looks for, and are matched by run the way cleanup means.
 */
import { describe, expect, test } from 'vitest';
import { MAX_IDENTIFIER_BYTES, runMatcher, scenarioName, sessionLabel } from '../../adapters/postgres/names.ts';
import { scramVerifier } from '../../adapters/postgres/passwords.ts';

describe('scenario names', () => {
  test('a short one is <prefix>-<role>', () => {
    expect(scenarioName('jitc-abc12345-table-read', 'reader')).toBe('jitc-abc12345-table-read-reader');
    expect(scenarioName('jitc-abc12345-table-read')).toBe('jitc-abc12345-table-read');
  });

  test('a long one is shortened to 63 bytes, keeping its run prefix and role, and stays unique', () => {
    const long = `jitc-abc12345-${'a-very-long-scenario-id-'.repeat(3)}x`;
    const names = ['reader', 'requester'].map((role) => scenarioName(long, role));
    const other = scenarioName(`${long}y`, 'reader');
    for (const name of [...names, other, scenarioName(long)]) {
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_IDENTIFIER_BYTES);
      expect(name.startsWith('jitc-abc12345-')).toBe(true);
    }
    expect(names[0]).toMatch(/-[0-9a-f]{8}-reader$/);
    expect(new Set([...names, other]).size).toBe(3);
  });
});

describe('matching a run', () => {
  test('a run id matches its own prefix only; without one, any jitc run', () => {
    const run = runMatcher('abc12345');
    expect(run('jitc-abc12345-x-reader')).toBe(true);
    expect(run('jitc-abc123456-x-reader')).toBe(false);
    expect(run('jitc-other-x')).toBe(false);
    expect(run(null)).toBe(false);
    const any = runMatcher(undefined);
    expect(any('jitc-other-x')).toBe(true);
    expect(any('jitc_admin')).toBe(false);
    expect(any('jitc admin')).toBe(false);
    expect(any('jitc-admin')).toBe(false);
  });

  test('a session is worded by its pid and role, or as a dropped role', () => {
    expect(sessionLabel({ pid: 42, usename: 'jitc-r-x-login', application_name: '' })).toBe('session pid 42 (role jitc-r-x-login)');
    expect(sessionLabel({ pid: 43, usename: null, application_name: 'jitc-r-x' })).toBe('session pid 43 (a dropped role, application jitc-r-x)');
  });
});

describe('login passwords', () => {
  test('are stored as a SCRAM-SHA-256 verifier, never as themselves', () => {
    const verifier = scramVerifier('Aa1-some-password', Buffer.alloc(16, 7));
    expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
    expect(verifier).not.toContain('Aa1-some-password');
    expect(scramVerifier('Aa1-some-password', Buffer.alloc(16, 7))).toBe(verifier);
  });
});
