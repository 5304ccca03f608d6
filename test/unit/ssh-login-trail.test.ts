/**
 * Reading a certificate's logins and their end from sshd's own log, on lines as OpenSSH 9.2 wrote
 * them at LogLevel VERBOSE (the serial and ports are the only changes).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { type LogLine, linesSince } from '../../adapters/log-lines.ts';
import { loginTrailOf } from '../../adapters/ssh/login-trail.ts';

const SERIAL = '14115658360315613339';
const CERT = `ED25519-CERT SHA256:RBziCWNMjqLNQtP6s4WS4jO48beSG3A7lx5dF9zVHXI ID jitc-t1-ssh (serial ${SERIAL}) CA ED25519 SHA256:BfpSwHTRb1HJ65gyGS7T6iHpTUSY2lipEcoN9I+R/Qk`;
const accepted = (port: number): string => `Accepted publickey for jitc-ssh from 127.0.0.1 port ${port} ssh2: ${CERT}`;
const failed = (port: number): string => `Failed publickey for jitc-ssh from 127.0.0.1 port ${port} ssh2: ${CERT}`;
const starting = (port: number, id = 0): string => `Starting session: forced-command (config) 'exec /tmp/jitc-ssh-x/session-limit end-connection' for jitc-ssh from 127.0.0.1 port ${port} id ${id}`;
const closing = (port: number, id = 0): string => `Close session: user jitc-ssh from 127.0.0.1 port ${port} id ${id}`;

/** Lines at offsets 0, 100, 200…: `endBy` is then counted in lines × 100. */
function lines(...texts: string[]): LogLine[] {
  return texts.map((text, i) => ({ at: i * 100, text }));
}

describe("a certificate's records in sshd's log", () => {
  test('a login, its connection ended, and a later login refused as expired: every record found', () => {
    const trail = loginTrailOf(
      lines(accepted(44588), starting(44588), 'Received disconnect from 127.0.0.1 port 44588:11: disconnected by user', 'Connection from 127.0.0.1 port 44618 on 127.0.0.1 port 36631 rdomain ""', 'Certificate invalid: expired', failed(44618)),
      SERIAL,
      Number.POSITIVE_INFINITY,
    );
    expect(trail.logins.map((l) => l.port)).toEqual([44588]);
    expect(trail.ended.get(44588)?.by).toBe('connection');
    expect(trail.refusedExpired?.text).toBe(failed(44618));
  });

  test('a connection ended by a signal leaves only its sessions closed: that stands for its end, and only when every session closed', () => {
    const ended = loginTrailOf(lines(accepted(52564), starting(52564), closing(52564), starting(52564), closing(52564)), SERIAL, Number.POSITIVE_INFINITY);
    expect(ended.ended.get(52564)).toEqual({ line: { at: 400, text: closing(52564) }, by: 'sessions' });
    const stillOpen = loginTrailOf(lines(accepted(52564), starting(52564), closing(52564), starting(52564)), SERIAL, Number.POSITIVE_INFINITY);
    expect(stillOpen.ended.has(52564)).toBe(false);
    // A connection that ran no session and whose end is not logged is not ended.
    expect(loginTrailOf(lines(accepted(52564)), SERIAL, Number.POSITIVE_INFINITY).ended.has(52564)).toBe(false);
  });

  test('an end logged after residue was read is the harness cleaning up, and a port used before the login says nothing of it', () => {
    const trail = loginTrailOf(lines('Disconnected from user jitc-ssh 127.0.0.1 port 40000', accepted(40000), starting(40000), 'Disconnected from user jitc-ssh 127.0.0.1 port 40000'), SERIAL, 300);
    expect(trail.ended.has(40000)).toBe(false);
  });

  test('a refusal for another reason is no end by expiry, and another certificate\'s lines are not this one\'s', () => {
    const other = accepted(1).replace(SERIAL, '1');
    const trail = loginTrailOf(lines(other, 'Connection from 127.0.0.1 port 44620 on 127.0.0.1 port 36631 rdomain ""', 'Certificate invalid: name is not a listed principal', failed(44620)), SERIAL, Number.POSITIVE_INFINITY);
    expect(trail.logins).toEqual([]);
    expect(trail.refusedExpired).toBeUndefined();
    expect(trail.refusedOtherwise.map((r) => r.reasons)).toEqual([['name is not a listed principal']]);
  });

  test("the log is read from an offset, its CR LF line ends dropped and a line still being written left out", async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'jitc-login-trail-')), 'sshd.log');
    writeFileSync(file, 'before\r\nfirst\r\nsecond\r\npartial');
    expect((await linesSince(file, 8, "sshd's log")).lines).toEqual([
      { at: 8, text: 'first' },
      { at: 15, text: 'second' },
    ]);
    await expect(linesSince(file, 10_000, "sshd's log")).rejects.toThrow(/shrank below the offset/);
  });
});
