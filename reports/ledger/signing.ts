/**
 * Signing the manifest with a key the user supplies, through node:crypto only. The signature is the
 * raw signature over the exact bytes of manifest.json, so it can be checked without jitc:
 *   Ed25519:      openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in manifest.json -sigfile manifest.sig
 *   RSA / ECDSA:  openssl dgst -sha256 -verify pub.pem -signature manifest.sig manifest.json
 * Only public material (the algorithm and the public key's fingerprint) is ever written.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sha256Hex } from './event-log.ts';
import { InputError } from '../../scenarios/input.ts';

/** Key types that sign, and the digest each one is used with (Edwards curves hash internally). */
const ALGORITHMS: Record<string, { name: string; digest: string | null }> = {
  ed25519: { name: 'ed25519', digest: null },
  ed448: { name: 'ed448', digest: null },
  rsa: { name: 'rsa-sha256', digest: 'sha256' },
  'rsa-pss': { name: 'rsa-pss-sha256', digest: 'sha256' },
  ec: { name: 'ecdsa-sha256', digest: 'sha256' },
};

export interface SigningKey {
  key: KeyObject;
  algorithm: string;
  /** sha256 of the public key's SPKI DER encoding, hex. */
  publicKeySha256: string;
}

function algorithmOf(key: KeyObject, file: string): { name: string; digest: string | null } {
  const algorithm = ALGORITHMS[key.asymmetricKeyType ?? ''];
  if (!algorithm) throw new InputError(`${file}: keys of type ${key.asymmetricKeyType ?? 'unknown'} cannot sign; use Ed25519, RSA or ECDSA`);
  return algorithm;
}

export function publicKeySha256(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return sha256Hex(pub.export({ type: 'spki', format: 'der' }));
}

function readPem(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(`${flag}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

/** A PEM private key for --sign-key. Encrypted keys are refused: there is no prompt in a pipeline. */
export function loadSigningKey(file: string, flag = '--sign-key'): SigningKey {
  const pem = readPem(file, flag);
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    // OpenSSL answers an encrypted key without a passphrase with "interrupted or cancelled": read the PEM label instead.
    const encrypted = /-----BEGIN (ENCRYPTED PRIVATE KEY|[A-Z ]+PRIVATE KEY-----\r?\nProc-Type: 4,ENCRYPTED)/.test(pem);
    const why = encrypted ? 'the key is encrypted; give an unencrypted PEM key' : `not a PEM private key (${(error as Error).message})`;
    throw new InputError(`${flag}: ${file}: ${why}`);
  }
  return { key, algorithm: algorithmOf(key, file).name, publicKeySha256: publicKeySha256(key) };
}

/** A PEM public key for `verify --key` (a private key is accepted too: its public half is used). */
export function loadVerifyKey(file: string, flag = '--key'): SigningKey {
  const pem = readPem(file, flag);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new InputError(`${flag}: ${file}: not a PEM public key`);
  }
  return { key, algorithm: algorithmOf(key, file).name, publicKeySha256: publicKeySha256(key) };
}

export function signBytes(data: Buffer, signer: SigningKey): Buffer {
  const { digest } = algorithmOf(signer.key, 'the signing key');
  return sign(digest, data, signer.key);
}

export function verifyBytes(data: Buffer, signature: Buffer, verifier: SigningKey): boolean {
  const { digest } = algorithmOf(verifier.key, 'the verifying key');
  try {
    return verify(digest, data, verifier.key, signature);
  } catch {
    // A malformed signature (wrong length, bad DER) is simply not a valid one.
    return false;
  }
}
