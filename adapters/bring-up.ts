/**
 * Bringing targets up for a run: install what `local` needs, fall back from `container` to `local`
 * when no Docker engine answers (said in one line), connect to `external` endpoints. Used by the
 * CLI and by the project's own tests, so both reach targets the same way.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerEngineAnswers } from './container-engine.ts';
import { type Adapter, type ProvisionOptions, type StartedTarget, type TargetMode } from './contract.ts';
import { installRequirements, missingCommands } from './install.ts';
import { isOurProcess, runStateDir, UP_RUN_ID, type PidRecord } from './local-process.ts';
import { targetsPath } from './paths.ts';
import { InputError, PROJECT_ROOT } from '../scenarios/input.ts';

export { UP_RUN_ID };
const UP_DIR = targetsPath(PROJECT_ROOT, 'up');

interface UpRecord {
  connection: StartedTarget['connection'];
  pid: number;
}

/** Remember a target started by `targets up`. The file holds its admin credential: owner-only. */
export function rememberUpTarget(target: StartedTarget): void {
  mkdirSync(UP_DIR, { recursive: true, mode: 0o700 });
  const record: UpRecord = { connection: target.connection, pid: target.pid ?? 0 };
  writeFileSync(join(UP_DIR, `${target.connection.adapter}.json`), JSON.stringify(record), { mode: 0o600 });
}

export function forgetUpTargets(): void {
  rmSync(UP_DIR, { recursive: true, force: true });
}

/** A target left running by `targets up`, if its server is still the one that was started. */
export function upTarget(adapter: string): StartedTarget | undefined {
  const file = join(UP_DIR, `${adapter}.json`);
  if (!existsSync(file)) return undefined;
  const record = JSON.parse(readFileSync(file, 'utf8')) as UpRecord;
  const pidDir = runStateDir(PROJECT_ROOT, UP_RUN_ID);
  const pidFiles = existsSync(pidDir) ? readdirSync(pidDir) : [];
  const alive = pidFiles.some((f) => {
    const pid = JSON.parse(readFileSync(join(pidDir, f), 'utf8')) as PidRecord;
    return pid.pid === record.pid && isOurProcess(pid);
  });
  // Targets without a process of ours (containers, external) cannot be checked this way.
  if (!alive && record.pid !== 0) return undefined;
  return { connection: record.connection, pid: record.pid, stop: async () => undefined };
}

export interface TargetOptions {
  runId: string;
  projectRoot: string;
  mode: TargetMode;
  /** Per-adapter sections of the config file. */
  config: Record<string, Record<string, unknown>>;
  /** The config file, so an error in a section names it. */
  configFile?: string;
  log: (line: string) => void;
  /** Aborted (Ctrl-C): no install step or target start begins any more. */
  signal?: AbortSignal;
}

/** What `container` resolves to on this machine, decided once per run. */
export async function effectiveMode(mode: TargetMode, log: (line: string) => void): Promise<TargetMode> {
  if (mode !== 'container') return mode;
  const engine = await dockerEngineAnswers();
  if (engine.ok) return 'container';
  log(`container targets unavailable: ${engine.why}; using local targets instead`);
  return 'local';
}

export async function ensureInstalled(adapters: Adapter[], projectRoot: string, log: (line: string) => void, signal?: AbortSignal): Promise<void> {
  const requirements = adapters.flatMap((a) => (a.targets.local ? [a.targets.local.requirements] : []));
  const missing = requirements.some((r) => missingCommands(projectRoot, r).length > 0);
  if (!missing) return;
  log('local targets are not installed yet: installing them (jitc targets install)');
  await installRequirements(projectRoot, requirements, log, signal);
}

/** Start (local, container) or connect (external) one target per adapter, in parallel. */
export async function bringUp(adapters: Adapter[], options: TargetOptions): Promise<StartedTarget[]> {
  // An adapter without a container of its own (PostgreSQL, sshd) runs its local target beside the containers.
  const modeOf = (adapter: Adapter): TargetMode => (options.mode === 'container' && !adapter.targets.container ? 'local' : options.mode);
  for (const adapter of adapters) if (modeOf(adapter) !== options.mode) options.log(`${adapter.name}: no container target; using its local target`);
  const local = adapters.filter((adapter) => modeOf(adapter) === 'local');
  if (local.length > 0) await ensureInstalled(local, options.projectRoot, options.log, options.signal);
  options.signal?.throwIfAborted();
  const settled = await Promise.allSettled(adapters.map((adapter) => bringUpOne(adapter, modeOf(adapter), options)));
  const started = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) {
    // Nothing half-done: stop what did start before reporting the one that did not.
    await Promise.allSettled(started.map((t) => t.stop()));
    throw failure.reason;
  }
  return started;
}

async function bringUpOne(adapter: Adapter, mode: TargetMode, options: TargetOptions): Promise<StartedTarget> {
  if (mode === 'local' && options.runId !== UP_RUN_ID) {
    const up = upTarget(adapter.name);
    if (up) {
      options.log(`${adapter.name}: using the target left up by \`jitc targets up\` at ${up.connection.address}`);
      return up;
    }
  }
  const provisioning = adapter.targets[mode];
  if (!provisioning) throw new InputError(`adapter ${adapter.name} has no ${mode} target mode`);
  const provisionOptions = (workDir: string): ProvisionOptions => ({
    runId: options.runId,
    projectRoot: options.projectRoot,
    workDir,
    config: options.config[adapter.name] ?? {},
    ...(options.configFile ? { configFile: options.configFile } : {}),
    log: options.log,
  });
  if ('connect' in provisioning) {
    // Nothing of an external target lives on this machine: it gets no work directory at all.
    const connection = await provisioning.connect(provisionOptions(join(tmpdir(), `jitc-${adapter.name}-unused`)));
    return { connection, stop: async () => undefined };
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await startInWorkDir(adapter, provisioning, provisionOptions, options);
    } catch (error) {
      // A port found free is only free until the server binds it, which for a JVM is seconds later:
      // on a busy machine another server may take it first. That is no fault of the target: try
      // again with new ports, a bounded number of times.
      if (attempt >= PORT_RACE_ATTEMPTS || !PORT_TAKEN.test(error instanceof Error ? error.message : String(error))) throw error;
      options.log(`${adapter.name}: a port it was given was taken before it could bind it; starting it again on new ports`);
    }
  }
}

/** How a local server says a port it was told to listen on is already in use (every server jitc starts, Quarkus included). */
const PORT_TAKEN = /address already in use|EADDRINUSE|port\(s\) already bound/i;
const PORT_RACE_ATTEMPTS = 3;

async function startInWorkDir(
  adapter: Adapter,
  provisioning: { start(options: ProvisionOptions): Promise<StartedTarget> },
  provisionOptions: (workDir: string) => ProvisionOptions,
  options: TargetOptions,
): Promise<StartedTarget> {
  options.signal?.throwIfAborted();
  // Made only for a target that is started, and removed with it whatever happens: a run leaves nothing in the temporary directory.
  const workDir = mkdtempSync(join(tmpdir(), `jitc-${adapter.name}-`));
  const removeWorkDir = (): void => rmSync(workDir, { recursive: true, force: true });
  let started: StartedTarget;
  try {
    started = await provisioning.start(provisionOptions(workDir));
  } catch (error) {
    removeWorkDir();
    throw error;
  }
  return {
    ...started,
    stop: async () => {
      try {
        await started.stop();
      } finally {
        removeWorkDir();
      }
    },
  };
}
