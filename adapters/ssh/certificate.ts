/**
 * Reading an OpenSSH certificate (PROTOCOL.certkeys) as sshd reads it: serial, key id,
 * principals, validity, options and extensions, and the CA that signed it. What a certificate
 * states about itself is the target's own statement of the grant: sshd refuses it from its
 * valid-before on, whoever issued it, so the expiry recorded for a grant comes from here.
 * Public parts only: a certificate holds no secret.
 */
import { createHash } from 'node:crypto';

export interface CertificateFacts {
  /** `ssh-ed25519-cert-v01@openssh.com`… */
  type: string;
  /** Decimal, as sshd logs it. */
  serial: string;
  certType: 'user' | 'host';
  keyId: string;
  principals: string[];
  /** Null: valid from the beginning of time. */
  validAfter: Date | null;
  /** Null: valid forever. */
  validBefore: Date | null;
  criticalOptions: string[];
  extensions: string[];
  /** `SHA256:…` of the signing CA's key, as sshd logs it. */
  signingCa: string;
}

const FOREVER = 0xffff_ffff_ffff_ffffn;

/** The public fields each key type carries between the nonce and the serial, as SSH wire types. */
const KEY_FIELDS: Record<string, readonly ('string' | 'mpint')[]> = {
  'ssh-ed25519-cert-v01@openssh.com': ['string'],
  'ssh-rsa-cert-v01@openssh.com': ['mpint', 'mpint'],
  'ssh-dss-cert-v01@openssh.com': ['mpint', 'mpint', 'mpint', 'mpint'],
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': ['string', 'string'],
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': ['string', 'string'],
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': ['string', 'string'],
  'sk-ssh-ed25519-cert-v01@openssh.com': ['string', 'string'],
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com': ['string', 'string', 'string'],
};

class Reader {
  #at = 0;
  constructor(readonly buf: Buffer) {}

  #need(n: number): void {
    if (this.#at + n > this.buf.length) throw new Error('the certificate is truncated');
  }

  uint32(): number {
    this.#need(4);
    const v = this.buf.readUInt32BE(this.#at);
    this.#at += 4;
    return v;
  }

  uint64(): bigint {
    this.#need(8);
    const v = this.buf.readBigUInt64BE(this.#at);
    this.#at += 8;
    return v;
  }

  bytes(): Buffer {
    const n = this.uint32();
    this.#need(n);
    const v = this.buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }

  text(): string {
    return this.bytes().toString('utf8');
  }

  /** Names of a packed list of (name, data) pairs, or of plain strings. */
  names(paired: boolean): string[] {
    const inner = new Reader(this.bytes());
    const out: string[] = [];
    while (!inner.done()) {
      out.push(inner.text());
      if (paired) inner.bytes();
    }
    return out;
  }

  done(): boolean {
    return this.#at >= this.buf.length;
  }
}

function time(value: bigint, edge: bigint): Date | null {
  return value === edge ? null : new Date(Number(value) * 1000);
}

/** Parse `<type> <base64> [comment]`, as `ssh-keygen -L` would show it. Throws on anything else. */
export function parseCertificate(line: string): CertificateFacts {
  const [declared, encoded] = line.trim().split(/\s+/);
  if (!declared || !encoded || !(declared in KEY_FIELDS)) throw new Error(`not an OpenSSH certificate this harness reads (type ${declared ?? 'none'})`);
  const r = new Reader(Buffer.from(encoded, 'base64'));
  const type = r.text();
  if (type !== declared) throw new Error(`the certificate says it is ${type}, its line ${declared}`);
  r.bytes(); // nonce
  for (const _field of KEY_FIELDS[type]!) r.bytes();
  const serial = r.uint64().toString();
  const kind = r.uint32();
  const keyId = r.text();
  const principals = r.names(false);
  const validAfter = time(r.uint64(), 0n);
  const validBefore = time(r.uint64(), FOREVER);
  const criticalOptions = r.names(true);
  const extensions = r.names(true);
  r.bytes(); // reserved
  const signatureKey = r.bytes();
  const signingCa = `SHA256:${createHash('sha256').update(signatureKey).digest('base64').replace(/=+$/, '')}`;
  return { type, serial, certType: kind === 2 ? 'host' : 'user', keyId, principals, validAfter, validBefore, criticalOptions, extensions, signingCa };
}
