/** Secret hygiene: a registered secret value never reaches a report; its fingerprint does. */
import { describe, expect, test } from 'vitest';
import { Evidence } from '../../scenarios/evidence.ts';
import { fingerprint, SecretRegistry } from '../../scenarios/secrets.ts';

const TOKEN = 'fake-token.CAESIGx9-not-a-real-token';

describe('fingerprints', () => {
  test('a fingerprint is stable, short and does not contain the secret', () => {
    expect(fingerprint(TOKEN)).toBe(fingerprint(TOKEN));
    expect(fingerprint(TOKEN)).toMatch(/^sha256:[0-9a-f]{12}$/);
    expect(fingerprint(TOKEN)).not.toContain(TOKEN);
  });

  test('different secrets have different fingerprints', () => {
    expect(fingerprint(TOKEN)).not.toBe(fingerprint(`${TOKEN}x`));
  });

  test('registering a secret returns its fingerprint', () => {
    expect(new SecretRegistry().add(TOKEN)).toBe(fingerprint(TOKEN));
  });
});

describe('redaction', () => {
  test('a secret value that slipped into a detail is replaced by its fingerprint, every time it occurs', () => {
    const secrets = new SecretRegistry();
    secrets.add(TOKEN);
    const out = secrets.redact(`login with ${TOKEN} failed; retried ${TOKEN}`);
    expect(out).toBe(`login with [redacted ${fingerprint(TOKEN)}] failed; retried [redacted ${fingerprint(TOKEN)}]`);
  });

  test('text without a secret is left as it is', () => {
    const secrets = new SecretRegistry();
    secrets.add(TOKEN);
    expect(secrets.redact('HTTP 403 permission denied')).toBe('HTTP 403 permission denied');
  });

  test('a secret containing another registered secret is replaced whole', () => {
    const secrets = new SecretRegistry();
    const inner = 'abc123secret';
    const outer = `prefix-${inner}-suffix`;
    secrets.add(inner);
    secrets.add(outer);
    const out = secrets.redact(`value ${outer} and ${inner}`);
    expect(out).toBe(`value [redacted ${fingerprint(outer)}] and [redacted ${fingerprint(inner)}]`);
    expect(out).not.toContain('prefix-');
  });

  test('values shorter than six characters are not secrets, so they cannot blank out ordinary words', () => {
    const secrets = new SecretRegistry();
    secrets.add('root');
    expect(secrets.size).toBe(0);
    expect(secrets.redact('root token')).toBe('root token');
  });

  test('registering the same secret twice keeps one entry', () => {
    const secrets = new SecretRegistry();
    secrets.add(TOKEN);
    secrets.add(TOKEN);
    expect(secrets.values()).toEqual([TOKEN]);
  });

  test('structured data is redacted at any depth, in values and in keys', () => {
    const secrets = new SecretRegistry();
    secrets.add(TOKEN);
    const data = { answer: `denied ${TOKEN}`, list: [{ token: TOKEN }], [TOKEN]: 1, count: 3, ok: true, none: null };
    const out = secrets.redactValue(data);
    expect(JSON.stringify(out)).not.toContain(TOKEN);
    expect(out.count).toBe(3);
    expect(out.ok).toBe(true);
    expect(out.none).toBeNull();
    expect(out.list[0]?.token).toBe(`[redacted ${fingerprint(TOKEN)}]`);
  });

  // BUG: redactValue searches for the raw value in JSON.stringify's output, where a secret holding
  // a quote, a backslash or a control character appears escaped, so it is never matched and leaks
  // into evidence data (LDAP bind passwords such as `Pa"ss\word` are exactly this).
  test('a secret holding a quote or a backslash is redacted in structured evidence data', () => {
    const secrets = new SecretRegistry();
    const password = 'Pa"ss\\w0rd!';
    secrets.add(password);
    const out = secrets.redactValue({ answer: `bind with ${password} refused` });
    expect(JSON.stringify(out)).not.toContain(JSON.stringify(password).slice(1, -1));
    expect(out.answer).not.toContain(password);
  });

  // BUG: the same text-level replacement turns a number that contains a registered secret made of
  // digits into invalid JSON, so recording evidence throws instead of recording.
  test('a secret made of digits does not break recording numbers', () => {
    const secrets = new SecretRegistry();
    secrets.add('123456');
    expect(secrets.redactValue({ msAfterEnd: 1234567 })).toEqual({ msAfterEnd: 1234567 });
  });
});

describe('evidence', () => {
  test('a secret value that slipped into an event or its data is redacted in the evidence', () => {
    const secrets = new SecretRegistry();
    secrets.add(TOKEN);
    const evidence = new Evidence(secrets);
    evidence.enter('use');
    evidence.record(`first use with ${TOKEN}`, { header: `X-Vault-Token: ${TOKEN}` });

    expect(JSON.stringify(evidence.events)).not.toContain(TOKEN);
    expect(evidence.events[0]).toMatchObject({
      phase: 'use',
      event: `first use with [redacted ${fingerprint(TOKEN)}]`,
      data: { header: `X-Vault-Token: [redacted ${fingerprint(TOKEN)}]` },
    });
  });

  test('a secret registered before an event is recorded is redacted in it', () => {
    const secrets = new SecretRegistry();
    const evidence = new Evidence(secrets);
    const late = 'secret-id-7f3a9c2e';
    secrets.add(late);
    evidence.record(`secret_id ${late} issued`);
    expect(evidence.events[0]?.event).not.toContain(late);
  });

  test('an event carries the phase it happened in and the time given for it', () => {
    const evidence = new Evidence(new SecretRegistry());
    evidence.enter('reuse');
    const at = new Date('2026-01-01T00:00:03.250Z');
    evidence.record('reuse attempt 1 with JIT token: denied', undefined, at);
    expect(evidence.events[0]).toEqual({ at: '2026-01-01T00:00:03.250Z', phase: 'reuse', event: 'reuse attempt 1 with JIT token: denied' });
    expect(evidence.find('reuse', 'reuse attempt 1')).toBe(evidence.events[0]);
    expect(evidence.find('use', 'reuse attempt 1')).toBeUndefined();
  });
});
