/**
 * Sessions opened during the task and held across its end. sshd checks a certificate when a
 * connection logs in, never again: an interactive session, or a connection-sharing master through
 * which new sessions start without any new login, outlives the certificate unless the server ends
 * it. So the task opens both, keeps them, and the engine probes them after the end:
 *
 * - an interactive session: a remote shell reading commands from a pipe. It is kept busy as an
 *   active holder keeps it (a no-op command every second), so a server that only ends idle
 *   channels cannot pass for one that ends sessions; its probe writes `id` and a marker and reads
 *   the answer with a time limit.
 * - a connection-sharing master (`ssh -M -S <socket> -N`): its probe starts a NEW session through
 *   it (`ssh -S <socket> -o ControlMaster=no … id`), which the server authorises on the old login.
 *
 * Each knows the client port the server states for its connection ($SSH_CONNECTION), which is
 * how entitlements find the connection on the server (server-sessions.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { ProbeResult, ReuseHandle } from '../contract.ts';
import type { KeyFiles } from './client-files.ts';
import { runSsh, sshArgs, sshEnvironment, type SshTarget } from './openssh.ts';
import { type Ended, idAnswer, readEnded, readSharedSession, sayings } from './probes.ts';
import { SSH } from './targets.ts';

/** How long a held session may take to answer a probe before the answer is `unknown`. */
const ANSWER_MS = 4000;
/** How often the interactive session is given a no-op, as an active holder would. */
const KEEPALIVE_MS = 1000;
const OUTPUT_LIMIT = 256 * 1024;

/**
 * What the server's own side says of one connection, by the client port it stated: whether sshd
 * still serves it. Undefined where the server's side cannot be read (an external target).
 */
export type ServerSide = (clientPort: number) => { served: boolean; detail: string } | undefined;

/**
 * A held client's ending as a probe: an ending the server stated through the connection stands; a
 * bare TCP close counts as the server ending the session only when the server's own side shows the
 * connection gone.
 */
function judgeEnded(ended: Ended, what: string, remoteStatus: boolean, clientPort: number | undefined, serverSide: ServerSide): ProbeResult {
  const { result, transportOnly } = readEnded(ended, what, remoteStatus);
  if (!transportOnly) return result;
  const view = clientPort === undefined ? undefined : serverSide(clientPort);
  if (!view) {
    return {
      ...result,
      outcome: 'unknown',
      detail: `${result.detail}; a bare TCP close, which anything between jitc and the server (a bastion, a load balancer) can make while the server keeps the session, and the server's own side of this connection cannot be read here: not taken as the server ending it`,
    };
  }
  if (view.served) return { ...result, outcome: 'unknown', detail: `${result.detail}; yet the server still serves the connection (${view.detail}): something between closed the client's side` };
  return { ...result, detail: `${result.detail}; the server no longer serves the connection (${view.detail})` };
}

/** A session held open: what it is, the port the server states for it, and its handle. */
export interface HeldSession {
  what: string;
  /** The client port of its connection, as the server stated it; undefined when it never answered. */
  clientPort: number | undefined;
  /** How opening it went: `allowed` when the server ran `id` on it. */
  opened: ProbeResult;
  handle: ReuseHandle;
}

/**
 * What a connection-sharing master runs under: it reads nothing from its own stdin (-N), so it
 * would outlive a killed harness and hold its connection open. The shell starts it, then blocks
 * reading a pipe whose only write end the harness holds; when the harness closes it or dies in
 * any way, the read ends and the master is stopped by the pid the shell started (and has not
 * reaped, so the pid cannot be another process's). The shell exits with the master's status.
 */
const LIFELINE = `exec 3<&0
"$@" </dev/null &
m=$!
( read -r _ <&3; kill -TERM "$m" 2>/dev/null ) &
w=$!
exec 3<&-
wait "$m"
s=$?
kill "$w" 2>/dev/null
exit "$s"
`;

/** A client process the harness keeps running, with everything it said. */
class Held {
  stdout = '';
  stderr = '';
  ended: Ended | undefined;
  closing = false;
  readonly done: Promise<void>;

  /** `lifeline`: the process runs under {@link LIFELINE} and is stopped by closing its stdin. */
  constructor(
    readonly child: ChildProcess,
    readonly lifeline = false,
  ) {
    child.stdout?.on('data', (c: Buffer) => (this.stdout = (this.stdout + c.toString('utf8')).slice(-OUTPUT_LIMIT)));
    child.stderr?.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString('utf8')).slice(-OUTPUT_LIMIT)));
    // A write to a session the server closed fails with EPIPE: that is an answer, read from the exit.
    child.stdin?.on('error', () => undefined);
    this.done = new Promise((resolve) => {
      child.once('error', (error) => {
        this.ended ??= { code: null, signal: null, stderr: `${this.stderr}\n${error.message}`, at: new Date().toISOString() };
        resolve();
      });
      child.once('close', (code, signal) => {
        this.ended ??= { code, signal, stderr: this.stderr, at: new Date().toISOString() };
        resolve();
      });
    });
  }

  /** Wait until `test` holds for the output, the process ends, or `ms` pass. */
  async until(test: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!test()) {
      if (this.ended || Date.now() >= deadline) return test();
      await Promise.race([this.done, new Promise((r) => setTimeout(r, 25))]);
    }
    return true;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.ended) return;
    this.child.stdin?.end();
    // Under the lifeline, closing its pipe is what stops the master; a signal would stop only the shell.
    if (!this.lifeline) this.child.kill('SIGTERM');
    const stopped = await Promise.race([this.done.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
    if (!stopped) {
      this.child.kill('SIGKILL');
      await this.done;
    }
  }
}

/** `127.0.0.1 48896 127.0.0.1 42202` after a tag: the client port the server states. */
function statedPort(text: string, tag: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${tag} `));
  const port = Number(line?.split(/\s+/)[2]);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

const marker = (): string => `jitc-marker-${randomBytes(6).toString('hex')}`;

/**
 * Open the interactive session with the certificate and keep it. Its probe asks the shell to run
 * `id`; a shell the server ended is a denial, one that does not answer in time is `unknown`.
 */
export async function openInteractive(target: SshTarget, keys: KeyFiles, user: string, serverSide: ServerSide): Promise<HeldSession> {
  const what = 'interactive session opened during the task';
  const args = [...sshArgs(target, { keys }), '-T'];
  const held = new Held(spawn(SSH, args, { env: sshEnvironment(target.files), stdio: ['pipe', 'pipe', 'pipe'] }));
  const ask = async (command: string): Promise<{ answer: string } | { silent: true } | { ended: true }> => {
    if (held.ended) return { ended: true };
    const mark = marker();
    // Each question reads only its own answer (the keepalive's no-op prints nothing).
    held.stdout = '';
    held.child.stdin?.write(`${command}\necho ${mark}\n`);
    const answered = await held.until(() => held.stdout.includes(mark), ANSWER_MS);
    if (answered) return { answer: held.stdout.slice(0, held.stdout.indexOf(mark)) };
    // It may be ending right now: give the exit a moment to be read, so it is judged as such.
    await held.until(() => held.ended !== undefined, 500);
    return held.ended ? { ended: true } : { silent: true };
  };

  const tag = 'jitc-connection';
  const first = await ask(`echo "${tag} $SSH_CONNECTION"; id`);
  const at = new Date().toISOString();
  let opened: ProbeResult;
  let clientPort: number | undefined;
  if ('answer' in first && idAnswer(first.answer, user)) {
    clientPort = statedPort(first.answer, tag);
    opened = { outcome: 'allowed', at, detail: `shell answered ${idAnswer(first.answer, user)} (client port ${clientPort ?? 'not stated'})` };
  } else {
    opened = { outcome: 'unknown', at, detail: 'ended' in first ? `the session ended at once: ${sayings(held.ended?.stderr ?? '') || `exit ${held.ended?.code}`}` : 'the shell did not answer' };
  }

  // An active holder: a no-op every second, so only a limit tied to the credential can end it.
  const keepalive = setInterval(() => {
    if (!held.ended && !held.closing) held.child.stdin?.write(':\n');
  }, KEEPALIVE_MS);
  keepalive.unref();

  const probe = async (): Promise<ProbeResult> => {
    if (opened.outcome !== 'allowed') return { outcome: 'unknown', at: new Date().toISOString(), detail: `the session was never usable: ${opened.detail}` };
    const reply = await ask('id');
    const now = new Date().toISOString();
    if ('answer' in reply) {
      const id = idAnswer(reply.answer, user);
      return id ? { outcome: 'allowed', at: now, detail: `the shell still runs commands: ${id}` } : { outcome: 'unknown', at: now, detail: 'the shell answered without the account\'s id' };
    }
    if ('silent' in reply) return { outcome: 'unknown', at: now, detail: `the shell did not answer in ${ANSWER_MS} ms and its client still runs` };
    return judgeEnded(held.ended!, 'session', true, clientPort, serverSide);
  };

  return {
    what,
    clientPort,
    opened,
    handle: {
      name: 'interactive ssh session opened during the task',
      check: 'session-ended-with-task',
      boundToConnection: true,
      probe,
      close: async () => {
        clearInterval(keepalive);
        await held.close();
      },
    },
  };
}

/**
 * Start a connection-sharing master with the certificate and run one session through it. Its
 * probe starts a new session through the master; a master whose connection the server closed is
 * a denial.
 */
export async function openMaster(target: SshTarget, keys: KeyFiles, user: string, serverSide: ServerSide): Promise<HeldSession> {
  const what = 'connection-sharing master opened during the task';
  const socket = target.files.controlSocket;
  rmSync(socket, { force: true });
  const held = new Held(
    spawn('/bin/sh', ['-c', LIFELINE, 'jitc-ssh-master', SSH, ...sshArgs(target, { keys, sharing: 'master' }), '-N'], { env: sshEnvironment(target.files), stdio: ['pipe', 'pipe', 'pipe'] }),
    true,
  );
  const ready = await held.until(() => existsSync(socket), 8000);
  const tag = 'jitc-connection';
  let opened: ProbeResult;
  let clientPort: number | undefined;
  if (!ready) {
    opened = { outcome: 'unknown', at: new Date().toISOString(), detail: held.ended ? `the master ended at once: ${sayings(held.ended.stderr) || `exit ${held.ended.code}`}` : 'the master made no control socket in 8 s' };
  } else {
    const run = await runSsh(target, { sharing: 'client' }, [`echo "${tag} $SSH_CONNECTION"; id`]);
    opened = readSharedSession(run, user);
    clientPort = statedPort(run.stdout, tag);
    if (opened.outcome === 'allowed') opened = { ...opened, detail: `${opened.detail} (client port ${clientPort ?? 'not stated'})` };
  }

  const probe = async (): Promise<ProbeResult> => {
    if (opened.outcome !== 'allowed') return { outcome: 'unknown', at: new Date().toISOString(), detail: `the master was never usable: ${opened.detail}` };
    if (held.ended) return judgeEnded(held.ended, 'shared connection', false, clientPort, serverSide);
    const run = await runSsh(target, { sharing: 'client' }, ['id']);
    const result = readSharedSession(run, user);
    if (result.outcome !== 'unknown') return result;
    // The session failed: if the master's connection went with it, the master says why.
    await held.until(() => held.ended !== undefined, 500);
    return held.ended ? judgeEnded(held.ended, 'shared connection', false, clientPort, serverSide) : result;
  };

  return {
    what,
    clientPort,
    opened,
    handle: {
      name: 'connection-sharing master opened during the task (new session through it)',
      check: 'session-ended-with-task',
      boundToConnection: true,
      probe,
      close: async () => {
        await held.close();
        rmSync(socket, { force: true });
      },
    },
  };
}

