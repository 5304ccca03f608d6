/**
 * Reading what OpenSSH's client saw as tri-state probes. The privileged action is running `id`
 * as the target account; it is `allowed` only when `id` answers with that account's name.
 *
 * A denial is only ever one of these server answers:
 * - a new login: the client exited 255 with sshd's own refusal, `<user>@<host>: Permission
 *   denied (publickey).`, AND its debug output shows it offered exactly the key (or certificate)
 *   under test. A refusal of a certificate the client never offered (an unreadable file, a
 *   format it did not load) proves nothing, and stays `unknown`;
 * - a session held open: the server ended it — the client reports the remote side's exit status,
 *   or says the connection was `closed by remote host` — while the harness had not closed it;
 * - a session through a connection-sharing master: the master's own connection was closed by the
 *   remote host, or the server-side session limit refused the session (its `jitc-session-limit:
 *   refused` line, which only the target's forced command writes).
 * Everything else is `unknown`: connection refused, a time-out, a host key that does not match,
 * ssh's own errors, a session that stopped answering, a client killed by a signal, and any answer
 * without the account's `id`.
 */
import type { ProbeResult } from '../contract.ts';
import type { SshRun } from './openssh.ts';
import { SESSION_LIMIT_TAG } from './sshd-config.ts';

/** Lines that are ssh's debug chatter or the session's harmless notices, left out of details. */
const NOISE = /^(debug\d:|OpenSSH_|Could not chdir to home directory|Transferred: |Bytes per second)/;

/** ssh's own words, without the debug chatter: what a detail quotes. */
export function sayings(stderr: string, max = 2): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/\r$/, '').trim())
    .filter((l) => l !== '' && !NOISE.test(l));
  return lines.slice(-max).join(' | ').slice(0, 300);
}

/** `uid=999(jitc-ssh) gid=…`: the account the command really ran as, or undefined. */
export function idAnswer(stdout: string, user: string): string | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('uid='));
  if (!line) return undefined;
  const match = /^uid=(\d+)\(([^)]+)\)/.exec(line);
  return match && match[2] === user ? `uid=${match[1]}(${match[2]})` : undefined;
}

/** The line sshd's refusal of a login leaves on the client. */
function refusedLogin(stderr: string, user: string): boolean {
  return stderr.split('\n').some((l) => l.replace(/\r$/, '').trim().endsWith(': Permission denied (publickey).') && l.trim().startsWith(`${user}@`));
}

/** The key or certificate line the client says it offered from `file`, e.g. `ED25519-CERT SHA256:…`. */
export function offered(stderr: string, file: string): string | undefined {
  for (const line of stderr.split('\n').map((l) => l.replace(/\r$/, ''))) {
    const at = line.indexOf(`Offering public key: ${file} `);
    if (at >= 0) return line.slice(at + `Offering public key: ${file} `.length).replace(/\s+explicit.*$/, '').trim();
  }
  return undefined;
}

function failedToRun(run: SshRun): string | undefined {
  if (run.spawnError) return `ssh could not be started: ${run.spawnError}`;
  if (run.timedOut) return 'ssh did not finish in time (killed)';
  if (run.code === null) return `ssh ended by signal ${run.signal ?? 'unknown'}`;
  return undefined;
}

/**
 * A new login running `id`. `offeredFile` is the certificate (or, for a requester without one,
 * the key) the login was made with: only its refusal is a denial.
 */
export function readLogin(run: SshRun, user: string, offeredFile: string): ProbeResult {
  const at = run.at;
  const broken = failedToRun(run);
  if (broken) return { outcome: 'unknown', at, detail: broken };
  const id = idAnswer(run.stdout, user);
  if (run.code === 0 && id) return { outcome: 'allowed', at, detail: `logged in and ran id: ${id}` };
  if (run.code === 255 && refusedLogin(run.stderr, user)) {
    const what = offered(run.stderr, offeredFile);
    if (what) return { outcome: 'denied', at, detail: `sshd refused the login: Permission denied (publickey), offered ${what}` };
    return { outcome: 'unknown', at, detail: `sshd refused the login, but the client never offered ${offeredFile}: nothing was tested (${sayings(run.stderr)})` };
  }
  return { outcome: 'unknown', at, detail: `exit ${run.code}${id ? '' : ', no id of the account'}: ${sayings(run.stderr) || 'no message'}` };
}

/** A session through a connection-sharing master, running `id`. */
export function readSharedSession(run: SshRun, user: string): ProbeResult {
  const at = run.at;
  const broken = failedToRun(run);
  if (broken) return { outcome: 'unknown', at, detail: broken };
  const id = idAnswer(run.stdout, user);
  if (run.code === 0 && id) return { outcome: 'allowed', at, detail: `a new session through the master ran id: ${id}` };
  const limit = run.stderr.split('\n').find((l) => l.startsWith(`${SESSION_LIMIT_TAG} refused`));
  if (limit) return { outcome: 'denied', at, detail: `the server refused a new session through the master: ${limit.trim()}` };
  return { outcome: 'unknown', at, detail: `exit ${run.code}: ${sayings(run.stderr) || 'no message'}` };
}

/** How a client the harness kept running ended, when it ended without the harness closing it. */
export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  at: string;
}

/**
 * A held session or master whose client has exited: the server ended it, or we cannot tell.
 * `remoteStatus`: the client ran a remote command, so an exit status other than ssh's own 255 is
 * the server reporting that command's end (a master runs none: only the closure counts).
 *
 * What ended it matters: an exit status or an SSH disconnect message came through the encrypted,
 * authenticated connection, from the server itself; "closed by remote host" alone is the TCP
 * connection ending, which anything between the client and the server (a bastion, a load
 * balancer) can cause while the server keeps the session. Such an ending is `transportOnly`: a
 * denial only once the server's own side confirms it (see sessions.ts).
 */
export function readEnded(ended: Ended, what: string, remoteStatus: boolean): { result: ProbeResult; transportOnly: boolean } {
  const at = new Date().toISOString();
  const said = sayings(ended.stderr);
  if (remoteStatus && ended.code !== null && ended.code !== 255) {
    return { result: { outcome: 'denied', at, detail: `the server ended the ${what} at ${ended.at}: the remote side exited with status ${ended.code}${said ? ` (${said})` : ''}` }, transportOnly: false };
  }
  if (/^Received disconnect from /m.test(ended.stderr)) return { result: { outcome: 'denied', at, detail: `the server disconnected the ${what} at ${ended.at}: ${said}` }, transportOnly: false };
  if (/closed by remote host/i.test(ended.stderr)) return { result: { outcome: 'denied', at, detail: `the ${what}'s connection was closed at ${ended.at}: ${said}` }, transportOnly: true };
  return {
    result: { outcome: 'unknown', at, detail: `the ${what}'s client ended at ${ended.at} (${ended.code === null ? `signal ${ended.signal ?? 'unknown'}` : `exit ${ended.code}`}) without the server saying it closed it${said ? `: ${said}` : ''}` },
    transportOnly: false,
  };
}
