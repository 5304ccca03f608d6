/** An OpenSSH certificate read as sshd reads it: the fields ssh-keygen -L shows, from certificates ssh-keygen made. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { parseCertificate } from '../../adapters/ssh/certificate.ts';

const dir = mkdtempSync(join(tmpdir(), 'jitc-ssh-cert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const keygen = (...args: string[]): string => execFileSync('/usr/bin/ssh-keygen', args, { encoding: 'utf8' });
keygen('-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'ca'));

let made = 0;
/** A certificate ssh-keygen signs with the test CA; its file is `<key>-cert.pub`. */
function signed(type: string, sign: string[]): { text: string; file: string } {
  made += 1;
  const key = join(dir, `${type}-${made}`);
  keygen('-q', '-t', type, '-N', '', '-f', key);
  keygen('-q', '-s', join(dir, 'ca'), ...sign, `${key}.pub`);
  return { text: readFileSync(`${key}-cert.pub`, 'utf8'), file: `${key}-cert.pub` };
}
const certificate = (type: string, sign: string[]): string => signed(type, sign).text;

describe('reading a certificate', () => {
  test('serial, key id, principals, validity, options and extensions are those ssh-keygen signed', () => {
    const { text, file } = signed('ed25519', ['-I', 'jitc-run-scenario', '-n', 'alice,bob', '-z', '18446744073709551615', '-V', '20300101000000:20300101000003', '-O', 'clear', '-O', 'permit-pty', '-O', 'force-command=/bin/true']);
    const cert = parseCertificate(text);
    expect(cert).toMatchObject({
      type: 'ssh-ed25519-cert-v01@openssh.com',
      serial: '18446744073709551615',
      certType: 'user',
      keyId: 'jitc-run-scenario',
      principals: ['alice', 'bob'],
      criticalOptions: ['force-command'],
      extensions: ['permit-pty'],
    });
    // ssh-keygen reads -V in local time; the difference is what was signed.
    expect(cert.validBefore!.getTime() - cert.validAfter!.getTime()).toBe(3000);
    expect(keygen('-L', '-f', file)).toContain(`Signing CA: ED25519 ${cert.signingCa} `);
  });

  test('a certificate valid forever states no end, and one valid always no start', () => {
    const cert = parseCertificate(certificate('ed25519', ['-I', 'forever', '-n', 'p']));
    expect(cert.validAfter).toBeNull();
    expect(cert.validBefore).toBeNull();
  });

  test('rsa and ecdsa certificates are read past their own key fields', () => {
    for (const type of ['rsa', 'ecdsa']) {
      const cert = parseCertificate(certificate(type, ['-I', `id-${type}`, '-n', 'p', '-z', '7', '-V', '-1m:+1m']));
      expect(cert).toMatchObject({ keyId: `id-${type}`, serial: '7', principals: ['p'] });
      expect(cert.validBefore!.getTime()).toBeGreaterThan(Date.now());
    }
  });

  test('a plain key, a truncated certificate or a line of another type is refused', () => {
    const line = certificate('ed25519', ['-I', 'x', '-n', 'p']);
    const [type, blob] = line.split(' ');
    expect(() => parseCertificate(readFileSync(join(dir, 'ca.pub'), 'utf8'))).toThrow(/not an OpenSSH certificate/);
    expect(() => parseCertificate(`${type} ${blob!.slice(0, 80)}`)).toThrow(/truncated/);
    expect(() => parseCertificate(`ssh-rsa-cert-v01@openssh.com ${blob}`)).toThrow(/says it is ssh-ed25519-cert-v01@openssh.com/);
  });
});
