/**
 * LDAP messages counted on the wire, by operation, in each direction: what a scenario asks of a
 * directory and how much the directory answers (each entry a search returns is a message of its
 * own, so a search that reads the whole tree shows as many SearchResultEntry messages as it
 * found). Framed from the BER each LDAPMessage is (RFC 4511 §4.1.1): SEQUENCE { messageID, protocolOp, … }.
 */
import type { RelayTap } from './counting-relay.ts';

/** protocolOp tags (APPLICATION class), RFC 4511 §4.2–4.14. */
const OPS: Record<number, string> = {
  0x60: 'bindRequest',
  0x61: 'bindResponse',
  0x42: 'unbindRequest',
  0x63: 'searchRequest',
  0x64: 'searchResEntry',
  0x65: 'searchResDone',
  0x73: 'searchResRef',
  0x66: 'modifyRequest',
  0x67: 'modifyResponse',
  0x68: 'addRequest',
  0x69: 'addResponse',
  0x4a: 'delRequest',
  0x6b: 'delResponse',
  0x6c: 'modDNRequest',
  0x6d: 'modDNResponse',
  0x6e: 'compareRequest',
  0x6f: 'compareResponse',
  0x50: 'abandonRequest',
  0x77: 'extendedReq',
  0x78: 'extendedResp',
  0x79: 'intermediateResponse',
};

/** Tag, length and where the content starts, or undefined while the header is incomplete. */
function header(buffer: Buffer, at: number): { tag: number; length: number; content: number } | undefined {
  if (buffer.length < at + 2) return undefined;
  const first = buffer[at + 1]!;
  if (first < 0x80) return { tag: buffer[at]!, length: first, content: at + 2 };
  const count = first & 0x7f;
  if (buffer.length < at + 2 + count) return undefined;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + buffer[at + 2 + i]!;
  return { tag: buffer[at]!, length, content: at + 2 + count };
}

export class LdapMessageCounter {
  /** Every message seen, in order, as `<operation>`. */
  readonly messages: string[] = [];
  readonly #pending = new Map<string, Buffer>();

  readonly tap: RelayTap = (from, connection, chunk) => {
    const key = `${from}:${connection}`;
    let buffer = Buffer.concat([this.#pending.get(key) ?? Buffer.alloc(0), chunk]);
    for (;;) {
      const message = header(buffer, 0);
      if (!message || buffer.length < message.content + message.length) break;
      // Inside: the messageID INTEGER, then the protocolOp, whose first octet names the operation.
      const id = header(buffer, message.content);
      const op = id ? buffer[id.content + id.length] : undefined;
      this.messages.push(op === undefined ? 'unreadable' : (OPS[op] ?? `op 0x${op.toString(16)}`));
      buffer = buffer.subarray(message.content + message.length);
    }
    this.#pending.set(key, buffer);
  };

  count(op: string): number {
    return this.messages.filter((m) => m === op).length;
  }

  /** Messages a client sent: the relay sees both directions, and a search's answer is many messages. */
  get requests(): number {
    return this.messages.filter((m) => /Req(uest)?$/.test(m)).length;
  }
}
