/**
 * What counts as a denial at an sshd (adapters/ssh/probes.ts): only sshd's own refusal of the
 * very certificate offered, a held session the server ended, or the server-side session limit's
 * refusal. Everything else is unknown. Also the small readers around it: host keys from
 * known_hosts lines, the server's connection table and log, and the external `ssh:` section.
 */
import { describe, expect, test } from 'vitest';
import type { ProvisionOptions } from '../../adapters/contract.ts';
import { dirNameOf } from '../../adapters/ssh/client-files.ts';
import type { SshRun } from '../../adapters/ssh/openssh.ts';
import { idAnswer, offered, readEnded, readLogin, readSharedSession } from '../../adapters/ssh/probes.ts';
import { loginFromLog, peerPorts } from '../../adapters/ssh/server-sessions.ts';
import { hostKeysOf, sshTargets } from '../../adapters/ssh/targets.ts';
import { InputError } from '../../scenarios/input.ts';

const CERT = '/tmp/jitc-ssh-clients/jitc-r-s/cred-1-cert.pub';
const offeredLine = `debug1: Offering public key: ${CERT} ED25519-CERT SHA256:abc explicit\r\n`;
const refusal = 'jitc-ssh@127.0.0.1: Permission denied (publickey).\r\n';

function ran(partial: Partial<SshRun>): SshRun {
  return { code: 0, signal: null, stdout: '', stderr: '', timedOut: false, at: '2026-01-01T00:00:00.000Z', ...partial };
}

describe('a new login running id', () => {
  test("is allowed only when id answers as the target account", () => {
    expect(readLogin(ran({ stdout: 'uid=999(jitc-ssh) gid=995(jitc-ssh) groups=995(jitc-ssh)\n' }), 'jitc-ssh', CERT)).toMatchObject({ outcome: 'allowed', detail: 'logged in and ran id: uid=999(jitc-ssh)' });
    expect(readLogin(ran({ stdout: 'uid=0(root) gid=0(root)\n' }), 'jitc-ssh', CERT).outcome).toBe('unknown');
    expect(readLogin(ran({ stdout: '' }), 'jitc-ssh', CERT).outcome).toBe('unknown');
  });

  test("is denied on sshd's refusal of the very certificate offered", () => {
    const result = readLogin(ran({ code: 255, stderr: `${offeredLine}${refusal}` }), 'jitc-ssh', CERT);
    expect(result).toMatchObject({ outcome: 'denied', detail: 'sshd refused the login: Permission denied (publickey), offered ED25519-CERT SHA256:abc' });
  });

  test('a refusal of a login that never offered the certificate proves nothing', () => {
    const other = `debug1: Offering public key: ${CERT.replace('cred-1', 'cred-2')} ED25519-CERT SHA256:def explicit\n`;
    expect(readLogin(ran({ code: 255, stderr: `${other}${refusal}` }), 'jitc-ssh', CERT)).toMatchObject({ outcome: 'unknown', detail: expect.stringMatching(/never offered/) });
    expect(readLogin(ran({ code: 255, stderr: refusal }), 'jitc-ssh', CERT).outcome).toBe('unknown');
  });

  test("another account's refusal, a host key mismatch, a refused connection, a time-out or a signal is unknown", () => {
    const cases: Partial<SshRun>[] = [
      { code: 255, stderr: `${offeredLine}root@127.0.0.1: Permission denied (publickey).\n` },
      { code: 255, stderr: `${offeredLine}jitc-ssh@127.0.0.1: Permission denied (publickey,password).\n` },
      { code: 255, stderr: 'Host key verification failed.\n' },
      { code: 255, stderr: 'ssh: connect to host 127.0.0.1 port 1: Connection refused\n' },
      { code: null, signal: 'SIGKILL', timedOut: true, stderr: offeredLine },
      { code: null, signal: 'SIGTERM', stderr: `${offeredLine}${refusal}` },
      { code: 1, stderr: `${offeredLine}${refusal}` },
      { code: null, spawnError: 'ENOENT' },
    ];
    for (const c of cases) expect(readLogin(ran(c), 'jitc-ssh', CERT).outcome, JSON.stringify(c)).toBe('unknown');
  });
});

describe('a new session through a connection-sharing master', () => {
  test("is allowed when it runs id; denied only on the server's session-limit refusal", () => {
    expect(readSharedSession(ran({ stdout: 'uid=999(jitc-ssh) gid=995(jitc-ssh)\n' }), 'jitc-ssh').outcome).toBe('allowed');
    const refused = readSharedSession(ran({ code: 255, stderr: 'jitc-session-limit: refused: the certificate expired at 2026-01-01T00:00:03\n' }), 'jitc-ssh');
    expect(refused).toMatchObject({ outcome: 'denied', detail: 'the server refused a new session through the master: jitc-session-limit: refused: the certificate expired at 2026-01-01T00:00:03' });
  });

  test('a session that ended for any other reason is unknown: the master may simply be gone', () => {
    expect(readSharedSession(ran({ code: 255, stderr: 'Control socket connect(/x/m): No such file or directory\n' }), 'jitc-ssh').outcome).toBe('unknown');
    expect(readSharedSession(ran({ code: 126, stderr: 'jitc-session-limit: session ended: the certificate expired at x\n' }), 'jitc-ssh').outcome).toBe('unknown');
    expect(readSharedSession(ran({ code: 255, stderr: 'Connection to 127.0.0.1 closed by remote host.\n' }), 'jitc-ssh').outcome).toBe('unknown');
  });
});

describe('a held session whose client exited', () => {
  const ended = (code: number | null, stderr: string, signal: NodeJS.Signals | null = null) => ({ code, signal, stderr, at: '2026-01-01T00:00:04.000Z' });

  test('a closed connection is a denial only the server side can confirm: a bare TCP close is marked transport-only', () => {
    expect(readEnded(ended(255, 'Connection to 127.0.0.1 closed by remote host.\r\n'), 'session', true)).toMatchObject({ result: { outcome: 'denied' }, transportOnly: true });
    expect(readEnded(ended(255, 'Connection to 127.0.0.1 closed by remote host.\n'), 'shared connection', false)).toMatchObject({ result: { outcome: 'denied' }, transportOnly: true });
  });

  test("the server's disconnect message came through the authenticated connection: a denial that stands", () => {
    const said = 'Received disconnect from 127.0.0.1 port 2222:2: session limit\nDisconnected from 127.0.0.1 port 2222\n';
    expect(readEnded(ended(255, said), 'shared connection', false)).toMatchObject({ result: { outcome: 'denied' }, transportOnly: false });
  });

  test("a shell's exit status is the server ending it; a master runs no remote command, so its status says nothing", () => {
    expect(readEnded(ended(124, 'jitc-session-limit: session ended\n'), 'session', true)).toMatchObject({ result: { outcome: 'denied', detail: expect.stringMatching(/exited with status 124/) }, transportOnly: false });
    expect(readEnded(ended(124, 'jitc-session-limit: session ended\nConnection to 127.0.0.1 closed by remote host.\n'), 'session', true).transportOnly).toBe(false);
    expect(readEnded(ended(0, ''), 'shared connection', false).result.outcome).toBe('unknown');
  });

  test("ssh's own failure or a signal is unknown", () => {
    expect(readEnded(ended(255, 'Timeout, server 127.0.0.1 not responding.\n'), 'session', true).result.outcome).toBe('unknown');
    expect(readEnded(ended(null, '', 'SIGKILL'), 'session', true).result.outcome).toBe('unknown');
  });
});

describe('the small readers', () => {
  test('id answers name the account only when it is the account', () => {
    expect(idAnswer('x\nuid=999(jitc-ssh) gid=1\n', 'jitc-ssh')).toBe('uid=999(jitc-ssh)');
    expect(idAnswer('uid=999(jitc-ssh2) gid=1\n', 'jitc-ssh')).toBeUndefined();
  });

  test('the offered key is read from the line naming its file', () => {
    expect(offered(offeredLine, CERT)).toBe('ED25519-CERT SHA256:abc');
    expect(offered(offeredLine, `${CERT}.other`)).toBeUndefined();
  });

  test('host keys come out of known_hosts lines, hashed names, markers and bare keys alike', () => {
    const text = [
      '# a comment',
      '[127.0.0.1]:2222,[127.0.0.1]:2223 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== comment',
      '|1|abc=|def= ecdsa-sha2-nistp256 AAAAE2VjZHNh',
      '@revoked * ssh-rsa AAAAB3Nza',
      'ssh-rsa AAAAB3NzaC1yc2E=',
      'not a key line',
    ].join('\n');
    expect(hostKeysOf(text)).toEqual(['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==', 'ecdsa-sha2-nistp256 AAAAE2VjZHNh', 'ssh-rsa AAAAB3NzaC1yc2E=']);
  });

  test("the server's connection table maps socket inodes to peer ports", () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:A4B5 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1082 1 0 100 0 0 10 0',
      '   1: 0100007F:A4B5 0100007F:BC0E 01 00000000:00000000 00:00000000 00000000     0        0 228122 1 0 20 4 30 10 -1',
    ].join('\n');
    expect(peerPorts(table)).toEqual(new Map([['1082', 0], ['228122', 0xbc0e]]));
  });

  test("sshd's log names the certificate a login from a port used", () => {
    const log = [
      'Accepted publickey for jitc-ssh from 127.0.0.1 port 48896 ssh2: ED25519-CERT SHA256:OYq ID jitc-r-s (serial 42) CA ED25519 SHA256:EHo',
      'Accepted publickey for jitc-ssh from 127.0.0.1 port 48902 ssh2: ED25519-CERT SHA256:OYq ID other id (serial 7) CA ED25519 SHA256:EHo',
    ].join('\n');
    expect(loginFromLog(log, 48896)).toEqual({ keyId: 'jitc-r-s', serial: '42' });
    expect(loginFromLog(log, 48902)).toEqual({ keyId: 'other id', serial: '7' });
    expect(loginFromLog(log, 4889)).toBeUndefined();
  });

  test('a long scenario prefix makes a directory name short enough for a control socket, keeping the run prefix', () => {
    expect(dirNameOf('jitc-abc-ssh-cert-expiry')).toBe('jitc-abc-ssh-cert-expiry');
    const long = dirNameOf(`jitc-lvk3a9f1-${'x'.repeat(63)}`);
    expect(long.length).toBeLessThanOrEqual(44);
    expect(long.startsWith('jitc-lvk3a9f1-')).toBe(true);
    expect(dirNameOf(`jitc-lvk3a9f1-${'x'.repeat(62)}y`)).not.toBe(long);
  });
});

describe('the external ssh: section', () => {
  async function refused(config: Record<string, unknown>): Promise<string> {
    const external = sshTargets.external ?? expect.unreachable('no external mode');
    const options: ProvisionOptions = { runId: 'u', workDir: '/nonexistent', projectRoot: '/nonexistent', config, log: () => undefined };
    const error = await external.connect(options).then(
      () => expect.unreachable('should have been refused'),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InputError);
    const message = (error as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    return message;
  }

  test('host, account and host key are required, each in one line', async () => {
    expect(await refused({})).toMatch(/^config ssh: host: required: the host name or address of the sshd/);
    expect(await refused({ host: 'h' })).toMatch(/^config ssh: user: required: the account certificates log in as/);
    expect(await refused({ host: 'h', user: 'deploy' })).toMatch(/^config ssh: knownHosts: required: knownHosts \(a known_hosts line\) or knownHostsFile/);
  });

  test('unknown keys, bad ports and host key text without a key are refused', async () => {
    expect(await refused({ host: 'h', user: 'deploy', knownHosts: 'x', password: 'p' })).toMatch(/^config ssh: .*password/);
    expect(await refused({ host: 'h', user: 'deploy', knownHosts: 'x', port: 70000 })).toMatch(/^config ssh: port: /);
    expect(await refused({ host: 'h', user: 'deploy', knownHosts: 'not a key' })).toBe('external ssh target: ssh.knownHosts holds no host key (expected a known_hosts line such as "host ssh-ed25519 AAAA…")');
    expect(await refused({ host: 'h', user: 'deploy', knownHostsFile: '/nonexistent/known_hosts' })).toBe('external ssh target: ssh.knownHostsFile /nonexistent/known_hosts is not readable (ENOENT)');
  });

  test('an sshd that does not answer is named with its port and profile', async () => {
    expect(await refused({ host: '127.0.0.1', port: 1, user: 'deploy', knownHosts: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==' })).toBe('external ssh target 127.0.0.1:1 (stock) is not usable: ECONNREFUSED');
  });
});
