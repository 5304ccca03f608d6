/** The BER jitc writes itself (X.690), and the RFC 2589 refresh request built from it. */
import { describe, expect, test } from 'vitest';
import { encodeLength, integerContent } from '../../adapters/ldap/ber.ts';
import { encodeRefreshRequest, generalizedTimeToIso } from '../../adapters/ldap/dynamic-objects.ts';

describe('BER primitives', () => {
  test('lengths below 128 take one byte, longer ones the long form', () => {
    expect(encodeLength(0).toString('hex')).toBe('00');
    expect(encodeLength(127).toString('hex')).toBe('7f');
    expect(encodeLength(128).toString('hex')).toBe('8180');
    expect(encodeLength(300).toString('hex')).toBe('82012c');
  });

  test('integers are minimal two’s complement', () => {
    expect(integerContent(0).toString('hex')).toBe('00');
    expect(integerContent(3).toString('hex')).toBe('03');
    expect(integerContent(127).toString('hex')).toBe('7f');
    expect(integerContent(128).toString('hex')).toBe('0080');
    expect(integerContent(86400).toString('hex')).toBe('015180');
    expect(integerContent(-1).toString('hex')).toBe('ff');
    expect(integerContent(-129).toString('hex')).toBe('ff7f');
  });
});

describe('RFC 2589 refresh request', () => {
  test('is SEQUENCE { [0] entryName, [1] requestTtl }, as ldap_refresh() sends it', () => {
    const dn = 'cn=a,dc=b';
    const hex = encodeRefreshRequest(dn, 3).toString('hex');
    expect(hex).toBe(`300e8009${Buffer.from(dn).toString('hex')}810103`);
  });

  test('a TTL above 127 keeps its sign bit clear', () => {
    expect(encodeRefreshRequest('cn=a', 200).toString('hex').endsWith('810200c8')).toBe(true);
  });

  test('refuses a TTL the directory would not take', () => {
    expect(() => encodeRefreshRequest('cn=a', 0)).toThrow(RangeError);
  });
});

describe('generalizedTime', () => {
  test('entryExpireTimestamp and accesslog reqStart read as ISO instants', () => {
    expect(generalizedTimeToIso('20261123190430Z')).toBe('2026-11-23T19:04:30.000Z');
    expect(generalizedTimeToIso('20261123190430.000005Z')).toBe('2026-11-23T19:04:30.000Z');
  });
});
