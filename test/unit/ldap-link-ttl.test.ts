/**
 * Active Directory's LINK_TTL control and TTL-DN values, checked against the documented formats:
 * RFC 4511 §4.1.11 (Control), MS-ADTS 3.1.1.3.4.1.36 (LDAP_SERVER_LINK_TTL_OID: controlValue
 * omitted) and the TTL-DN form of expiring links (`<TTL=n,DN>` written, `<TTL=n>,DN` returned).
 */
import { FilterParser, SearchRequest } from 'ldapts';
import { describe, expect, test } from 'vitest';
import { encodeLinkTtlControl, LINK_TTL_OID, LinkTtlControl, parseLinkValue, ttlDn } from '../../adapters/ldap/link-ttl.ts';

const OID_HEX = Buffer.from('1.2.840.113556.1.4.2309', 'ascii').toString('hex');

describe('LDAP_SERVER_LINK_TTL control', () => {
  test('the OID is the one MS-ADTS assigns', () => {
    expect(LINK_TTL_OID).toBe('1.2.840.113556.1.4.2309');
  });

  test('encodes as SEQUENCE { controlType OCTET STRING, criticality BOOLEAN } with no controlValue', () => {
    // 30 1c                  SEQUENCE, 28 bytes
    //    04 17 "1.2.840…2309" controlType: OCTET STRING, 23 bytes
    //    01 01 00             criticality: BOOLEAN FALSE (ff when critical)
    //                         controlValue: absent
    expect(encodeLinkTtlControl(false).toString('hex')).toBe(`301c0417${OID_HEX}010100`);
    expect(encodeLinkTtlControl(true).toString('hex')).toBe(`301c0417${OID_HEX}0101ff`);
  });

  test('ldapts puts exactly those bytes in a search request, last in its controls', () => {
    for (const critical of [false, true]) {
      const message = new SearchRequest({ messageId: 7, baseDN: 'cn=g,dc=example,dc=com', scope: 'base', filter: FilterParser.parseString('(objectClass=*)'), attributes: ['member'], controls: [new LinkTtlControl(critical)] }).write();
      const control = encodeLinkTtlControl(critical);
      // Controls are [0] (0xa0) after the protocol operation: a0 <len> <control>.
      const wrapped = Buffer.concat([Buffer.from([0xa0, control.length]), control]);
      expect(message.subarray(message.length - wrapped.length).toString('hex')).toBe(wrapped.toString('hex'));
    }
  });
});

describe('TTL-DN member values', () => {
  test('a membership of n seconds is written <TTL=n,DN>', () => {
    expect(ttlDn('CN=Pat,CN=Users,DC=adatum,DC=com', 7200)).toBe('<TTL=7200,CN=Pat,CN=Users,DC=adatum,DC=com>');
  });

  test('a TTL must be a whole number of seconds, at least one', () => {
    expect(() => ttlDn('CN=x', 0)).toThrow(RangeError);
    expect(() => ttlDn('CN=x', 1.5)).toThrow(RangeError);
  });

  test('the value a DC returns under the control, <TTL=n>,DN, yields the DN and the seconds left', () => {
    expect(parseLinkValue('<TTL=6987>,CN=Pat,CN=Users,DC=adatum,DC=com')).toEqual({ dn: 'CN=Pat,CN=Users,DC=adatum,DC=com', ttlSeconds: 6987 });
  });

  test('the written form and a plain DN are read too', () => {
    expect(parseLinkValue('<TTL=30,cn=a,dc=b>')).toEqual({ dn: 'cn=a,dc=b', ttlSeconds: 30 });
    expect(parseLinkValue('cn=a,dc=b')).toEqual({ dn: 'cn=a,dc=b', ttlSeconds: null });
  });
});
