/**
 * How far a credential the holder minted on AWS reaches, and how long the holder asks for: the
 * pure rules of adapters/aws/extension/attempt.ts, and the checks every AWS grant source declares.
 */
import { describe, expect, test } from 'vitest';
import awsAdapter from '../../adapters/aws/index.ts';
import { askedSeconds, reachOf } from '../../adapters/aws/extension/attempt.ts';
import { checkDefinition } from '../../scenarios/catalogue.ts';

const now = Date.parse('2026-06-01T12:00:00Z');

describe('how long the holder asks for', () => {
  test('inside the window it aims a minute past the window end', () => {
    expect(askedSeconds('inside-window', now + 2000 * 1000, 900, 3600, now)).toBe(2060);
  });

  test("it never asks for less than AWS's floor, even when the window ends sooner", () => {
    expect(askedSeconds('inside-window', now + 3000, 900, 3600, now)).toBe(900);
  });

  test("it never asks for more than AWS's ceiling (a chained session: one hour)", () => {
    expect(askedSeconds('inside-window', now + 7200 * 1000, 900, 3600, now)).toBe(3600);
  });

  test('after the end it asks for the least AWS accepts: any session at all brings the grant back', () => {
    expect(askedSeconds('after-end', now - 5000, 900, 129_600, now)).toBe(900);
  });
});

describe('how far a minted credential reaches', () => {
  test("a session whose user's permission ends earlier reaches only that far", () => {
    expect(reachOf(now + 900_000, now + 60_000)).toMatchObject({ until: now + 60_000, because: expect.stringMatching(/permission earlier/) });
  });

  test("a session ending before its permission's end reaches its own Expiration", () => {
    expect(reachOf(now + 900_000, now + 3_600_000).until).toBe(now + 900_000);
  });

  test('a key or password (no end of its own) under a time-boxed permission reaches the time box', () => {
    expect(reachOf(null, now + 60_000).until).toBe(now + 60_000);
  });

  test('a session under a permission without an end reaches its Expiration', () => {
    expect(reachOf(now + 900_000, null).until).toBe(now + 900_000);
  });

  test('a key under a permission without an end reaches with no end', () => {
    expect(reachOf(null, null)).toEqual({ until: null, because: 'neither the credential nor the permission it carries states an end' });
  });
});

describe('what every AWS grant source declares', () => {
  const defaults = { durationSeconds: 900 };
  const point = awsAdapter.pointsOfUse['s3-object']!;
  test.each(Object.entries(awsAdapter.grantSources))('%s declares holder-cannot-extend, derived credentials, and only catalogued checks', (_name, source) => {
    const declared = source.checks(source.params.parse(_name === 'assume-role' ? defaults : {}));
    expect(declared).toEqual(expect.arrayContaining(['reuse-denied', 'holder-cannot-extend', 'derived-credentials-denied']));
    // What the pair can produce is what the source and its point of use declare together: all of it catalogued.
    for (const id of [...declared, ...point.checks(point.params.parse({}))]) expect(() => checkDefinition(id)).not.toThrow();
  });

  test('revocation-targeted is declared only where the broker revokes older sessions', () => {
    const role = awsAdapter.grantSources['assume-role']!;
    expect(role.checks(role.params.parse({ durationSeconds: 900 }))).toContain('revocation-targeted');
    expect(role.checks(role.params.parse({ durationSeconds: 900, revokeBy: 'remove-role-policy' }))).not.toContain('revocation-targeted');
  });
});
