/**
 * Local servers the harness starts itself (bao, moto_server, slapd): on 127.0.0.1, on a free port,
 * with a pid file per run so a killed run's servers can still be stopped — by that pid, after
 * checking the process is still the one we started, never by name.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { targetsPath } from './paths.ts';
import { processStart } from './process-start.ts';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface PidRecord {
  name: string;
  pid: number;
  /** The executable, to recognise the process before signalling it. */
  command: string;
  runId: string;
  workDir: string;
  startedAt: string;
  /** Process id of the jitc process that started the server. */
  owner: number;
  /**
   * Boot id and start time of the server process, read as it was spawned: what tells it from a
   * later process given the same pid. Its command line cannot: `bao` and `moto_server` are Python
   * launchers, so the process runs as the interpreter, or execs the real server binary.
   */
  processStart?: string;
  /** Boot id and start time of the owning jitc process: while that runs, the server is in use, not left over. */
  ownerStart?: string;
  /** Process id of the watchdog that stops the server when the jitc process ends (absent for `targets up`). */
  watchdog?: number;
  /** The signal that asks the server to stop, when not TERM ({@link LocalServerOptions.stopSignal}). */
  stopSignal?: 'INT';
}

export function runStateDir(projectRoot: string, runId?: string): string {
  return runId ? targetsPath(projectRoot, 'run', runId) : targetsPath(projectRoot, 'run');
}

export interface LocalServer {
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

export interface LocalServerOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  workDir: string;
  projectRoot: string;
  runId: string;
  /** Resolves true once the server answers. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
  /**
   * The signal that asks the server to stop (TERM unless said): PostgreSQL takes TERM as a smart
   * shutdown that waits for every open session, which a scenario may be holding on purpose.
   */
  stopSignal?: 'TERM' | 'INT';
}

/** The run id under which `jitc targets up` starts servers meant to outlive it. */
export const UP_RUN_ID = 'up';

/**
 * The watchdog each server runs under: a tiny shell that starts the server as its own child,
 * reports the server's pid on fd 3, then reads its stdin — a pipe whose only write end jitc holds.
 * The read ends when jitc closes it (stop) or when jitc dies in any way, SIGKILL included: then it
 * stops the server by the pid it started (TERM or the server's own stop signal, KILL after 5 s), reaps it, and removes the
 * server's work directory and pid record. Until it reaps the server the pid cannot be reused, so
 * it never signals another process. It stays jitc's own user, so it can stop a server that drops
 * to another user. A server started this way must stay in the foreground (slapd `-d 0`): a
 * daemon that forks away would leave the watchdog holding only its launcher's pid.
 * The server ignores SIGINT (a background job of a non-interactive shell): it is stopped by TERM.
 */
const WATCHDOG = `work=$1 record=$2 stop=$3
shift 3
"$@" </dev/null 3>&- &
server=$!
echo "$server" >&3
exec 3>&-
alive() { { read -r s < "/proc/$server/stat"; } 2>/dev/null || return 1; s=\${s##*) }; [ "\${s%% *}" != Z ]; }
while read -r _; do :; done
kill -"$stop" "$server" 2>/dev/null
n=0
while [ "$n" -lt 50 ] && alive; do sleep 0.1; n=$((n + 1)); done
if alive; then kill -KILL "$server" 2>/dev/null; fi
wait "$server"
rm -rf -- "$work"
rm -f -- "$record"
rmdir -- "\${record%/*}" 2>/dev/null
exit 0
`;

/** Servers this process started and has not stopped yet, ready or still starting. */
const live = new Set<LocalServer>();

/** Set once the servers are being stopped: a start that comes later would outlive the snapshot below. */
let closing = false;

/**
 * Stop every server this process started (ready or still starting), and refuse any later start:
 * what a Ctrl-C during start does. Without the refusal, a target whose start began after the
 * stop would be left to its watchdog, which stops it only after this process has exited.
 */
export async function stopLocalServers(): Promise<void> {
  closing = true;
  await Promise.allSettled([...live].map((server) => server.stop()));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  if (closing) throw new Error(`${options.name} was not started: the local servers are being stopped`);
  mkdirSync(options.workDir, { recursive: true });
  const logFile = join(options.workDir, `${options.name}.log`);
  const stateDir = runStateDir(options.projectRoot, options.runId);
  mkdirSync(stateDir, { recursive: true });
  const pidFile = join(stateDir, `${options.name}.json`);
  // Servers of `targets up` are meant to outlive this process; every other server dies with it.
  const tied = options.runId !== UP_RUN_ID;
  const log = openSync(logFile, 'a');
  const child = tied
    ? spawn('/bin/sh', ['-c', WATCHDOG, 'jitc-watchdog', options.workDir, pidFile, options.stopSignal ?? 'TERM', options.command, ...options.args], {
        cwd: options.workDir,
        env: options.env ?? process.env,
        stdio: ['pipe', log, log, 'pipe'],
        // Own process group: a Ctrl-C in the terminal reaches the harness only, which tears down
        // against a still-running target and then stops the server itself.
        detached: true,
      })
    : spawn(options.command, options.args, { cwd: options.workDir, env: options.env ?? process.env, stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const failedToSpawn = new Promise<Error>((resolve) => child.once('error', resolve));
  const childDone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  let stopping: Promise<void> | undefined;
  let record: PidRecord | undefined;
  const running = (): boolean => record !== undefined && isOurProcess(record);

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (tied) {
        // Closing the lifeline is the same path as this process dying: the watchdog stops the server.
        child.stdin?.destroy();
        if (!childDone()) await Promise.race([exit, sleep(10_000)]);
      } else if (running()) {
        child.kill(`SIG${options.stopSignal ?? 'TERM'}`);
        for (let i = 0; i < 50 && running(); i++) await sleep(100);
      }
      // The watchdog gone or stuck, the server still there: stop it by its own pid.
      if (record !== undefined && running()) {
        process.kill(record.pid, 'SIGKILL');
        for (let i = 0; i < 50 && running(); i++) await sleep(100);
      }
      if (!childDone()) child.kill('SIGKILL');
      rmSync(pidFile, { force: true });
      removeEmptyDir(stateDir);
      rmSync(options.workDir, { recursive: true, force: true });
      live.delete(server);
    })();
    return stopping;
  };
  const server: LocalServer = { pid: 0, logFile, stop };
  live.add(server);

  const reported = tied
    ? new Promise<number | Error>((resolve) => {
        let text = '';
        child.stdio[3]?.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          const line = /^(\d+)\n/.exec(text);
          if (line) resolve(Number(line[1]));
        });
        void exit.then(() => resolve(new Error('its watchdog exited before starting it')));
      })
    : Promise.resolve(child.pid ?? new Error('no process id'));
  const started = await Promise.race([reported, failedToSpawn]);
  if (started instanceof Error) {
    await stop();
    throw new Error(`${options.name}: could not start ${options.command}: ${started.message}`);
  }
  if (stopping) {
    // Stopped while it launched (a Ctrl-C): its watchdog removes it; no record may outlive it.
    await stopping;
    throw new Error(`${options.name} was stopped before it was ready`);
  }
  const pid = started;
  server.pid = pid;
  record = {
    name: options.name,
    pid,
    command: options.command,
    runId: options.runId,
    workDir: options.workDir,
    startedAt: new Date().toISOString(),
    owner: process.pid,
    processStart: processStart(pid),
    ownerStart: processStart(process.pid),
    ...(tied && child.pid !== undefined ? { watchdog: child.pid } : {}),
    ...(options.stopSignal === 'INT' ? { stopSignal: 'INT' as const } : {}),
  };
  writeRecord(stateDir, pidFile, record);

  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (stopping) {
      await stopping;
      throw new Error(`${options.name} was stopped before it was ready`);
    }
    if (!running()) {
      const tail = readTail(logFile);
      await stop();
      throw new Error(`${options.name} exited before it was ready: ${tail}`);
    }
    if (await options.ready().catch(() => false)) break;
    if (Date.now() > deadline) {
      const tail = readTail(logFile);
      await stop();
      throw new Error(`${options.name} did not become ready in ${(options.readyTimeoutMs ?? 30_000) / 1000} s: ${tail}`);
    }
    await sleep(150);
  }
  if (stopping) {
    await stopping;
    throw new Error(`${options.name} was stopped before it was ready`);
  }
  return server;
}

function readTail(file: string): string {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    return lines.slice(-3).join(' | ').slice(0, 400);
  } catch {
    return '(no log)';
  }
}

/**
 * Remove a run's state directory once it is empty. Never recursively: another jitc process (a
 * concurrent run sweeping, a server of the same run launching) may write a record into it at any
 * moment, and rmdir refuses a directory that is no longer empty.
 */
function removeEmptyDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty (another server of the run is recorded there) or already gone: its owner removes it.
  }
}

/**
 * Write a server's pid record. A concurrent run's sweep may remove the run's state directory while
 * it is still empty (between its creation and this record), so it is made again when missing.
 */
function writeRecord(stateDir: string, pidFile: string, record: PidRecord): void {
  for (let attempt = 1; ; attempt++) {
    mkdirSync(stateDir, { recursive: true });
    try {
      writeFileSync(pidFile, JSON.stringify(record, null, 2));
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw error;
    }
  }
}

/** Is the recorded server still running as the process that was started? Guards against signalling a recycled pid. */
export function isOurProcess(record: PidRecord): boolean {
  if (record.processStart !== undefined) return processStart(record.pid) === record.processStart;
  // No start time was readable when the server was recorded: the command line is all there is to go by.
  try {
    const cmdline = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').split('\0');
    return cmdline[0] === record.command;
  } catch {
    return false;
  }
}

export interface LeftoverServers {
  stopped: string[];
  /** Servers whose jitc process still runs (a run in progress, a test's own target): left alone. */
  inUse: string[];
}

/** Stop servers a killed run left behind (all runs when runId is undefined). Says what it stopped and what it left alone. */
export async function stopLeftoverServers(projectRoot: string, runId?: string): Promise<LeftoverServers> {
  const root = runStateDir(projectRoot);
  const found: LeftoverServers = { stopped: [], inUse: [] };
  if (!existsSync(root)) return found;
  const { stopped } = found;
  const runs = runId ? [runId] : readdirSync(root);
  for (const run of runs) {
    const dir = join(root, run);
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      let record: PidRecord;
      try {
        record = JSON.parse(readFileSync(join(dir, file), 'utf8')) as PidRecord;
      } catch {
        continue; // removed meanwhile by the server's own watchdog, or still being written
      }
      if (record.ownerStart !== undefined && processStart(record.owner) === record.ownerStart && isOurProcess(record)) {
        // Its run is not killed but in progress: stopping the server would break it mid-scenario.
        found.inUse.push(`${record.name} pid ${record.pid} (run ${record.runId}, whose jitc process ${record.owner} is still running)`);
        continue;
      }
      if (isOurProcess(record)) {
        process.kill(record.pid, `SIG${record.stopSignal ?? 'TERM'}`);
        for (let i = 0; i < 50 && isOurProcess(record); i++) await new Promise((r) => setTimeout(r, 100));
        if (isOurProcess(record)) process.kill(record.pid, 'SIGKILL');
        stopped.push(`${record.name} pid ${record.pid} (run ${record.runId})`);
      }
      rmSync(join(dir, file), { force: true });
      rmSync(record.workDir, { recursive: true, force: true });
    }
    removeEmptyDir(dir);
  }
  return found;
}

/**
 * What `jitc run` does first: stop the servers of runs whose jitc process is gone and whose
 * watchdogs did not stop them (killed along with it). Servers of runs in progress and of
 * `targets up` are left alone. Returns what it stopped.
 */
export async function sweepKilledRuns(projectRoot: string): Promise<string[]> {
  const root = runStateDir(projectRoot);
  if (!existsSync(root)) return [];
  const stopped: string[] = [];
  for (const run of readdirSync(root).filter((r) => r !== UP_RUN_ID)) stopped.push(...(await stopLeftoverServers(projectRoot, run)).stopped);
  return stopped;
}
