/**
 * RFC 2589 dynamic objects: an entry with the `dynamicObject` class lives for its entryTtl and the
 * directory deletes it by itself afterwards (OpenLDAP's dds overlay, Active Directory).
 *
 * The TTL is set with the Refresh extended operation, not on add: slapd refuses entryTtl in an add
 * ("no user modification allowed") and gives a new dynamic entry its dds-default-ttl until refreshed.
 */
import type { Client } from 'ldapts';
import { BER, berInteger, berOctetString, berSequence } from './ber.ts';

export const REFRESH_OID = '1.3.6.1.4.1.1466.101.119.1';

/**
 * The Refresh request value: `SEQUENCE { entryName [0] LDAPDN, requestTtl [1] INTEGER }`, the
 * encoding OpenLDAP's ldap_refresh() sends and slapd and Active Directory accept.
 */
export function encodeRefreshRequest(dn: string, ttlSeconds: number): Buffer {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`a refresh TTL is a whole number of seconds, at least 1; got ${ttlSeconds}`);
  return berSequence(berOctetString(dn, BER.context(0)), berInteger(ttlSeconds, BER.context(1)));
}

/**
 * Ask the directory to keep `dn` for `ttlSeconds`. The granted TTL is read back from the entry
 * (entryTtl, entryExpireTimestamp) rather than from the response, which ldapts hands over as text.
 */
export async function refreshTtl(client: Client, dn: string, ttlSeconds: number): Promise<void> {
  await client.exop(REFRESH_OID, encodeRefreshRequest(dn, ttlSeconds));
}

/** `20261123190430Z` or `20261123190430.000005Z` (generalizedTime) → ISO 8601. */
export function generalizedTimeToIso(value: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:[.,](\d+))?Z$/.exec(value.trim());
  if (!m) throw new Error(`not a generalizedTime: ${value}`);
  const [, y, mo, d, h, mi, s] = m;
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`).toISOString();
}
