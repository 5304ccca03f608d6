/**
 * The few BER (X.690) encodings jitc builds itself: the RFC 2589 refresh request and the Active
 * Directory LINK_TTL control. Definite lengths only, as LDAP requires (RFC 4511 §5.1). ldapts
 * encodes everything else; these stay here so they can be checked byte by byte against the specs.
 */

export const BER = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  SEQUENCE: 0x30,
  /** [n] IMPLICIT, primitive, context-specific: 0x80 | n. */
  context: (n: number): number => 0x80 | n,
} as const;

/** Length octets: short form below 128, long form (0x80 | count, then big-endian bytes) above. */
export function encodeLength(length: number): Buffer {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`BER length must be a non-negative integer, got ${length}`);
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

/** INTEGER content: minimal two's complement, big-endian (X.690 §8.3). */
export function integerContent(value: number): Buffer {
  if (!Number.isSafeInteger(value)) throw new RangeError(`BER integer must be a safe integer, got ${value}`);
  const bytes: number[] = [];
  let rest = BigInt(value);
  for (;;) {
    const byte = Number(BigInt.asUintN(8, rest));
    bytes.unshift(byte);
    rest >>= 8n;
    // Stop once the remaining bits are pure sign extension of the byte just written.
    if ((rest === 0n && (byte & 0x80) === 0) || (rest === -1n && (byte & 0x80) !== 0)) break;
  }
  return Buffer.from(bytes);
}

export const berInteger = (value: number, tag: number = BER.INTEGER): Buffer => tlv(tag, integerContent(value));
export const berOctetString = (value: string | Buffer, tag: number = BER.OCTET_STRING): Buffer =>
  tlv(tag, typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
/** BOOLEAN TRUE is encoded 0xFF, as DER requires and every LDAP server accepts. */
export const berBoolean = (value: boolean): Buffer => tlv(BER.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
export const berSequence = (...parts: Buffer[]): Buffer => tlv(BER.SEQUENCE, Buffer.concat(parts));
