/**
 * The local sshd's configuration as text and as sshd reads it: `sshd -t` accepts it, `sshd -T`
 * applies each profile's directives on that profile's port only, and the session-limit script
 * ends or refuses a session by the certificate's valid-before, run exactly as sshd runs it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { PROFILES, type Profile, SESSION_LIMIT_TAG, sessionLimitScript, sshdConfig } from '../../adapters/ssh/sshd-config.ts';
import { ensurePrivsepDir } from '../../adapters/ssh/targets.ts';

const run = promisify(execFile);
// sshd checks nothing, not even with -t, without the directory its local target makes.
ensurePrivsepDir(() => undefined);
const dir = mkdtempSync(join(tmpdir(), 'jitc-ssh-conf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const keygen = (...args: string[]): string => execFileSync('/usr/bin/ssh-keygen', ['-q', ...args], { encoding: 'utf8' });
keygen('-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key'));
keygen('-t', 'ed25519', '-N', '', '-f', join(dir, 'user_ca'));
mkdirSync(join(dir, 'principals'));
const ports: Record<Profile, number> = { stock: 40001, hardened: 40002, 'idle-timeouts': 40003, 'session-timeout': 40004, 'terse-log': 40005 };
const paths = { hostKey: join(dir, 'host_key'), userCaPublicKey: join(dir, 'user_ca.pub'), principalsDir: join(dir, 'principals'), pidFile: join(dir, 'sshd.pid'), sessionLimit: join(dir, 'session-limit') };
const conf = sshdConfig({ host: '127.0.0.1', ports, user: 'jitc-ssh', paths });
writeFileSync(join(dir, 'sshd_config'), conf, { mode: 0o600 });
writeFileSync(paths.sessionLimit, sessionLimitScript(), { mode: 0o755 });

/** `sshd -T` for a login on a profile's port: the settings sshd would apply to it. */
async function effective(profile: Profile): Promise<Map<string, string>> {
  const { stdout } = await run('/usr/sbin/sshd', ['-T', '-f', join(dir, 'sshd_config'), '-C', `user=jitc-ssh,host=localhost,addr=127.0.0.1,lport=${ports[profile]}`]);
  return new Map(stdout.split('\n').filter(Boolean).map((line) => [line.split(' ')[0]!, line.slice(line.indexOf(' ') + 1)]));
}

describe('the generated sshd_config', () => {
  test('sshd -t accepts it', async () => {
    await run('/usr/sbin/sshd', ['-t', '-f', join(dir, 'sshd_config')]);
  });

  test('listens on 127.0.0.1 only, one port per profile, and lets certificates in as the one account only', () => {
    expect(conf.split('\n').filter((l) => l.startsWith('ListenAddress'))).toEqual(PROFILES.map((p) => `ListenAddress 127.0.0.1:${ports[p]}`));
    for (const line of ['AuthorizedKeysFile none', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'AllowUsers jitc-ssh', `TrustedUserCAKeys ${paths.userCaPublicKey}`, 'LogLevel VERBOSE']) {
      expect(conf.split('\n')).toContain(line);
    }
  });

  test('the principals command lists the directory with a literal %f, which sshd would otherwise expand to the key fingerprint', async () => {
    const stock = await effective('stock');
    expect(stock.get('authorizedprincipalscommand')).toBe(`/usr/bin/find ${paths.principalsDir} -mindepth 1 -maxdepth 1 -type f -printf %%f\\n`);
    expect(stock.get('authorizedprincipalscommanduser')).toBe('root');
  });

  test('stock is OpenSSH as shipped: no forced command, no connection or channel limit', async () => {
    const stock = await effective('stock');
    expect(stock.get('forcecommand')).toBe('none');
    expect(stock.get('unusedconnectiontimeout')).toBe('none');
    expect(stock.get('channeltimeout')).toBeUndefined();
    expect(stock.get('maxsessions')).toBe('10');
  });

  test('hardened forces the session limit that ends the connection, closes unused connections, and forwards nothing', async () => {
    const hardened = await effective('hardened');
    expect(hardened.get('forcecommand')).toBe(`exec ${paths.sessionLimit} end-connection`);
    expect(hardened.get('exposeauthinfo')).toBe('yes');
    expect(hardened.get('unusedconnectiontimeout')).toBe('2');
    expect(hardened.get('disableforwarding')).toBe('yes');
    expect(hardened.get('maxsessions')).toBe('1');
  });

  test('the partial profiles keep one piece each', async () => {
    const idle = await effective('idle-timeouts');
    expect(idle.get('forcecommand')).toBe('none');
    expect(idle.get('channeltimeout')).toBe('session:*=2');
    expect(idle.get('unusedconnectiontimeout')).toBe('2');
    const session = await effective('session-timeout');
    expect(session.get('forcecommand')).toBe(`exec ${paths.sessionLimit} session-only`);
    expect(session.get('unusedconnectiontimeout')).toBe('none');
  });
});

describe('the session-limit script', () => {
  let serial = 0;
  /** A certificate of the test CA valid for `validity`, as $SSH_USER_AUTH would name it. */
  function authInfo(validity: string | undefined): string {
    serial += 1;
    const key = join(dir, `holder-${serial}`);
    keygen('-t', 'ed25519', '-N', '', '-f', key);
    if (validity === undefined) {
      writeFileSync(`${key}.auth`, `publickey ${execFileSync('/usr/bin/cat', [`${key}.pub`], { encoding: 'utf8' })}`);
      return `${key}.auth`;
    }
    keygen('-s', join(dir, 'user_ca'), '-I', `holder-${serial}`, '-n', 'p', '-z', String(serial), ...(validity === 'forever' ? [] : ['-V', validity]), `${key}.pub`);
    writeFileSync(`${key}.auth`, `publickey ${execFileSync('/usr/bin/cat', [`${key}-cert.pub`], { encoding: 'utf8' })}`);
    return `${key}.auth`;
  }

  /** Run the script as sshd does for a command session. */
  function session(auth: string, command: string): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
    const began = Date.now();
    return new Promise((resolve) => {
      execFile(paths.sessionLimit, ['session-only'], { env: { PATH: '/usr/bin:/bin', SSH_USER_AUTH: auth, SSH_ORIGINAL_COMMAND: command } }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - began });
      });
    });
  }

  test('runs the command while the certificate is valid', async () => {
    const result = await session(authInfo('-1m:+1m'), 'echo ran');
    expect(result).toMatchObject({ code: 0, stdout: 'ran\n', stderr: '' });
  });

  test("ends a session still running at the certificate's valid-before, and says so", async () => {
    const result = await session(authInfo('-1m:+2s'), 'sleep 30');
    expect(result.code).toBe(124);
    expect(result.stderr).toMatch(new RegExp(`^${SESSION_LIMIT_TAG} session ended: the certificate expired at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\n$`));
    expect(result.ms).toBeGreaterThan(500);
    expect(result.ms).toBeLessThan(3500);
  });

  test('refuses a session once the certificate has expired', async () => {
    const result = await session(authInfo('-2m:-1m'), 'echo ran');
    expect(result).toMatchObject({ code: 126, stdout: '' });
    expect(result.stderr).toMatch(new RegExp(`^${SESSION_LIMIT_TAG} refused: the certificate expired at `));
  });

  test('refuses a login without a certificate, or one that states no end', async () => {
    const plain = await session(authInfo(undefined), 'echo ran');
    expect(plain).toMatchObject({ code: 126, stdout: '', stderr: `${SESSION_LIMIT_TAG} refused: the login used no certificate\n` });
    const forever = await session(authInfo('forever'), 'echo ran');
    expect(forever).toMatchObject({ code: 126, stdout: '', stderr: `${SESSION_LIMIT_TAG} refused: the certificate states no valid-before\n` });
    const none = await session('/nonexistent', 'echo ran');
    expect(none).toMatchObject({ code: 126, stdout: '' });
  });
});
