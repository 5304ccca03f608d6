/**
 * The secret scan the hygiene tests run over every output finds each shape of secret jitc
 * handles, wherever written text could hold it, and nothing that is not a secret. Every secret
 * and key is made here at run time (node:crypto, ssh-keygen, openssl): none is written in a source file.
 */
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { selfSignedCertificate } from '../../adapters/postgres/certificates.ts';
import { fingerprint } from '../../scenarios/secrets.ts';
import {
  armour,
  BODY_ONLY_PLACES,
  KEY_PLACES,
  ONE_LINE_PLACES,
  oneLineSecrets,
  opensshPrivateKey,
  pemBody,
  privateKeys,
  SECRET_LENGTHS,
  SecretScanner,
  UNSEPARATED_PLACES,
  type Hit,
} from '../support/secret-scan.ts';

const dir = mkdtempSync(join(tmpdir(), 'jitc-secret-scan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const keygen = (...args: string[]): string => execFileSync('/usr/bin/ssh-keygen', args, { encoding: 'utf8' });

const secrets = oneLineSecrets();
const keys = privateKeys();
const registered = [...Object.values(secrets), ...Object.values(keys)].map(fingerprint);

/** Text around a planted snippet, so nothing is found only because it stands at the start or the end. */
const BEFORE = 'evidence: the grant was issued at 2030-01-01T00:00:00Z\n';
const AFTER = '\n  "verdict": "pass"\n';

function scan(text: string, fingerprints: Iterable<string> = registered): Hit[] {
  return new SecretScanner(fingerprints).scanText(`${BEFORE}${text}${AFTER}`, 'text');
}

describe('a secret the run registered is found by its fingerprint alone', () => {
  const cases = Object.entries(secrets).flatMap(([shape, secret]) =>
    Object.entries(ONE_LINE_PLACES)
      .filter(([place]) => !UNSEPARATED_PLACES.has(place) || SECRET_LENGTHS.includes(secret.length))
      .map(([place, put]) => ({ shape, place, secret, ...put(secret) })),
  );

  test.each(cases)('$shape in $place', ({ secret, text, at }) => {
    expect(scan(text)).toEqual([{ where: 'text', offset: BEFORE.length + at, kind: 'registered', fingerprint: fingerprint(secret) }]);
  });

  test('every length the adapters and their targets give a secret is one the scan cuts out', () => {
    for (const [shape, secret] of Object.entries(secrets)) {
      if (shape.startsWith('broker bearer token')) continue; // a broker's own tokens have any length
      expect(SECRET_LENGTHS, shape).toContain(secret.length);
    }
  });

  test('a secret of a length no list names is found where a separator, a blank or a JSON escape delimits it', () => {
    const unlisted = randomBytes(45).toString('base64url');
    for (const text of [`"${unlisted}"`, `key=${unlisted}&`, `a/${unlisted}/b`, `"line one\\n${unlisted}"`]) {
      expect(scan(text, [fingerprint(unlisted)]), text.slice(0, 12)).toHaveLength(1);
    }
  });

  test('a long secret of a length no list names, wrapped in a JSON string after other text, is found whole', () => {
    const token = `${randomBytes(30).toString('base64url')}.${randomBytes(500).toString('base64url')}`;
    const lines = token.match(/.{1,64}/g)!;
    const text = `"detail": "the broker answered:\\n${lines.join('\\n')}"`;
    expect(scan(text, [fingerprint(token)])).toEqual([{ where: 'text', offset: BEFORE.length + text.indexOf(lines[0]!), kind: 'registered', fingerprint: fingerprint(token) }]);
  });

  test('a secret the run did not register is not a finding: the scan knows secrets only by their fingerprints', () => {
    for (const [shape, secret] of Object.entries(secrets)) expect(scan(ONE_LINE_PLACES['a JSON string']!(secret).text, []), shape).toEqual([]);
  });

  test('a hit names the place and the fingerprint, never the secret', () => {
    const { text } = ONE_LINE_PLACES['a header']!(secrets['OpenBao token']!);
    const hits = JSON.stringify(scan(text));
    expect(hits).toContain(fingerprint(secrets['OpenBao token']!));
    expect(hits).not.toContain(secrets['OpenBao token']!);
  });
});

describe('a private key is found by its shape, and named by the fingerprint the run registered it under', () => {
  const cases = Object.entries(keys).flatMap(([shape, pem]) => Object.entries(KEY_PLACES).map(([place, put]) => ({ shape, place, pem, ...put(pem) })));

  test.each(cases)('$shape in $place', ({ pem, text, at }) => {
    expect(scan(text)).toEqual([{ where: 'text', offset: BEFORE.length + at, kind: 'private-key', fingerprint: fingerprint(pem) }]);
  });

  test.each(cases)('$shape in $place, never registered, is found all the same', ({ pem, text, at }) => {
    const hits = scan(text, []);
    expect(hits).toEqual([{ where: 'text', offset: BEFORE.length + at, kind: 'private-key', fingerprint: fingerprint(pemBody(pem).join('')) }]);
    expect(JSON.stringify(hits)).not.toContain(pemBody(pem)[1]);
  });

  test('an RSA key under the old PEM encryption (Proc-Type and DEK-Info headers before its body) is found by its header', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const pem = rsa.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: randomBytes(12).toString('hex') }) as string;
    expect(pem).toMatch(/^Proc-Type: 4,ENCRYPTED$/m);
    for (const [place, put] of Object.entries(KEY_PLACES)) {
      if (BODY_ONLY_PLACES.has(place)) continue; // an encrypted body decodes to nothing a parser knows
      const { text, at } = put(pem);
      expect(scan(text), place).toMatchObject([{ offset: BEFORE.length + at, kind: 'private-key' }]);
    }
  });

  test('a key ssh-keygen made itself is found, whole or by its body alone', () => {
    keygen('-q', '-t', 'ed25519', '-N', '', '-C', 'jitc-test', '-f', join(dir, 'made'));
    const pem = readFileSync(join(dir, 'made'), 'utf8');
    for (const place of ["a file's lines", 'a JSON string', 'its body alone, wrapped', 'its body alone on one line, glued after a key']) {
      const { text, at } = KEY_PLACES[place]!(pem);
      expect(scan(text, [fingerprint(pem)]), place).toEqual([{ where: 'text', offset: BEFORE.length + at, kind: 'private-key', fingerprint: fingerprint(pem) }]);
    }
  });

  test("the OpenSSH key made from node:crypto's Ed25519 key is one ssh-keygen reads, with node's public key", () => {
    const pair = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'node-made'), opensshPrivateKey(pair.privateKey), { mode: 0o600 });
    const [type, blob] = keygen('-y', '-f', join(dir, 'node-made')).trim().split(' ');
    expect(type).toBe('ssh-ed25519');
    const raw = Buffer.from(blob!, 'base64').subarray(-32);
    expect(raw.toString('base64url')).toBe(pair.publicKey.export({ format: 'jwk' }).x);
  });

  test('a key cut short is still a key: a PEM block after its first lines, an OpenSSH body after its first line', () => {
    const pkcs1 = keys['RSA key, PKCS#1 (BEGIN RSA PRIVATE KEY)']!;
    expect(scan(pkcs1.split('\n').slice(0, 4).join('\n'))).toMatchObject([{ offset: BEFORE.length, kind: 'private-key' }]);
    const openssh = keys['SSH key, OpenSSH format (BEGIN OPENSSH PRIVATE KEY)']!;
    expect(scan(`key ${pemBody(openssh)[0]}`)).toMatchObject([{ offset: BEFORE.length + 4, kind: 'private-key' }]);
  });

  test('two keys in one text are two hits', () => {
    const a = keys['EC key, PKCS#8 (BEGIN PRIVATE KEY)']!;
    const b = keys['SSH key, OpenSSH format (BEGIN OPENSSH PRIVATE KEY)']!;
    expect(scan(`${a}\n${b}`).map((h) => h.fingerprint)).toEqual([fingerprint(a), fingerprint(b)]);
  });
});

describe('what is not a secret is not found', () => {
  let publicText: string;
  let knownFingerprints: string[];
  beforeAll(async () => {
    // A certificate and its chain as openssl writes them, the key's public halves, an SSH public key and certificate.
    const tls = await selfSignedCertificate('jitc-scan-test');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keygen('-q', '-t', 'ed25519', '-N', '', '-C', 'jitc-ca', '-f', join(dir, 'ca'));
    keygen('-q', '-t', 'ecdsa', '-N', '', '-C', 'jitc-user', '-f', join(dir, 'user'));
    keygen('-q', '-s', join(dir, 'ca'), '-I', 'jitc-run-scenario', '-n', 'jitc-principal', '-V', '+5m', join(dir, 'user.pub'));
    const sshPublic = readFileSync(join(dir, 'user.pub'), 'utf8');
    const sshCertificate = readFileSync(join(dir, 'user-cert.pub'), 'utf8');
    const certBody = pemBody(tls.certificate).join('');
    const spki = createPublicKey(tls.privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
    publicText = [
      tls.certificate,
      `"certificate": ${JSON.stringify(`${tls.certificate}${tls.certificate}`)},`,
      `<property value="${tls.certificate.replace(/\n/g, '&#10;')}"/>`,
      `certificate body: ${certBody}`,
      rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string,
      rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string,
      ec.publicKey.export({ type: 'spki', format: 'pem' }) as string,
      `public key: ${spki}`,
      sshPublic,
      sshCertificate,
      `"signingCa": ${JSON.stringify(keygen('-l', '-f', join(dir, 'ca.pub')).trim())},`,
      keygen('-L', '-f', join(dir, 'user-cert.pub')),
      `credentialId: certificate serial ${randomBytes(8).readBigUInt64BE()} (key id jitc-run-scenario), key ${fingerprint(tls.privateKey)}`,
      `secret held back: [redacted ${fingerprint(tls.privateKey)}]`,
      `the key (${armour('BEGIN', ['PRIVATE', 'KEY'].join(' '))} … ${armour('END', ['PRIVATE', 'KEY'].join(' '))}) never leaves the scenario`,
    ].join('\n');
    // The scan holds the fingerprints of every private half: a public half must not match one by accident.
    knownFingerprints = [...registered, fingerprint(tls.privateKey), ...[rsa, ec].map((p) => fingerprint(p.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string))];
  });

  test('certificates, public keys, SSH public keys and certificates, fingerprints and serials: no hit', () => {
    expect(publicText).toContain('BEGIN CERTIFICATE');
    expect(publicText).toContain('-cert-v01@openssh.com');
    expect(scan(publicText, knownFingerprints)).toEqual([]);
  });

  test('the same text with one private key in it: exactly that key is found', () => {
    const key = keys['EC key, PKCS#8 (BEGIN PRIVATE KEY)']!;
    const at = publicText.length + 1;
    expect(scan(`${publicText}\n${key}`, knownFingerprints)).toEqual([{ where: 'text', offset: BEFORE.length + at, kind: 'private-key', fingerprint: fingerprint(key) }]);
  });
});
