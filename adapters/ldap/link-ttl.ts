/**
 * Active Directory time-bound group membership ("expiring links", Windows Server 2016 forest level
 * with the Privileged Access Management optional feature enabled).
 *
 * - Writing: a member value in TTL-DN form `<TTL=seconds,DN>` makes the link expire after that many
 *   seconds; the DC stops returning it, and later removes it, on its own.
 * - Reading: a search carrying the LDAP_SERVER_LINK_TTL control (MS-ADTS 3.1.1.3.4.1.36) returns
 *   such values as `<TTL=remaining>,DN`. The control has no value: "When sending this control to a
 *   DC, the controlValue field is omitted", and the DC returns no response control.
 *
 * jitc uses it as the native broker for group membership when the target is Active Directory.
 */
import { Control } from 'ldapts';
import { berBoolean, berOctetString, berSequence } from './ber.ts';

export const LINK_TTL_OID = '1.2.840.113556.1.4.2309';

/**
 * The control as it goes on the wire (RFC 4511 §4.1.11):
 * `Control ::= SEQUENCE { controlType LDAPOID, criticality BOOLEAN DEFAULT FALSE, controlValue OCTET STRING OPTIONAL }`
 * with controlValue omitted. Criticality is always written, as ldapts writes it (BER allows an
 * explicit DEFAULT value), so these bytes are exactly what the client sends.
 */
export function encodeLinkTtlControl(critical = false): Buffer {
  return berSequence(berOctetString(LINK_TTL_OID), berBoolean(critical));
}

/** The ldapts control object: no value, so ldapts' default (empty) value writer is the right one. */
export class LinkTtlControl extends Control {
  constructor(critical = false) {
    super(LINK_TTL_OID, { critical });
  }
}

/** AD limits a link TTL to a positive number of seconds; fractions are not accepted. */
export function ttlDn(dn: string, seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError(`a link TTL is a whole number of seconds, at least 1; got ${seconds}`);
  return `<TTL=${seconds},${dn}>`;
}

export interface LinkValue {
  dn: string;
  /** Seconds left as the DC states it; null for a member value without a TTL. */
  ttlSeconds: number | null;
}

/** Read a member value: `<TTL=n>,DN` (how the DC returns it), `<TTL=n,DN>` (how it is written), or a plain DN. */
export function parseLinkValue(value: string): LinkValue {
  const returned = /^<TTL=(\d+)>,(.+)$/i.exec(value);
  if (returned?.[1] && returned[2]) return { dn: returned[2], ttlSeconds: Number(returned[1]) };
  const written = /^<TTL=(\d+),(.+)>$/i.exec(value);
  if (written?.[1] && written[2]) return { dn: written[2], ttlSeconds: Number(written[1]) };
  return { dn: value, ttlSeconds: null };
}
