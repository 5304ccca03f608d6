/**
 * `jitc targets install`: the local targets' software, installed into the project idempotently.
 * Python packages go into a project venv (.targets/venv) at pinned versions; Debian packages are
 * installed with apt when missing and the harness may (root), otherwise the exact command is given.
 *
 * Each install step runs in its own process group with its output in `.targets/install.log`, not
 * in a pipe: a Ctrl-C in the terminal never reaches it, and it finishes even if jitc exits
 * meanwhile — an apt-get or dpkg stopped half-way leaves the system's packages broken.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { type LocalRequirements } from './contract.ts';
import { InputError } from '../scenarios/input.ts';

const run = promisify(execFile);

/** The install step running now (`apt-get install -y slapd`), if any: what a second Ctrl-C leaves to finish. */
let underway: string | undefined;

export function installUnderway(): string | undefined {
  return underway;
}

export function installLog(projectRoot: string): string {
  return join(projectRoot, '.targets', 'install.log');
}

/** Thrown between install steps once the run was interrupted: the step under way finished, the next did not start. */
export class InstallInterrupted extends Error {}

/**
 * Run one install step detached from jitc (own session and process group, output to the install
 * log); rejects with its last log line. A Ctrl-C from the terminal goes to jitc's process group, and
 * a child is in that group from its fork until it calls setsid: so the step is announced (and counts
 * as under way) only once the child has said, from its own session, that it is ready. A press before
 * that can kill it only before anything of the step ran; that ending is an interrupted install.
 */
async function runStep(projectRoot: string, command: string, args: string[], announce: () => void, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const logFile = installLog(projectRoot);
  mkdirSync(dirname(logFile), { recursive: true });
  const log = openSync(logFile, 'a');
  const shown = [command, ...args].join(' ');
  try {
    const child = spawn('/bin/sh', ['-c', 'printf ready >&3 && exec 3>&- && exec "$@"', 'jitc-install-step', command, ...args], {
      env,
      stdio: ['ignore', log, log, 'pipe'],
      detached: true,
    });
    let ready = false;
    child.stdio[3]?.once('data', () => {
      ready = true;
      underway = shown;
      announce();
    });
    const code = await new Promise<number | string>((resolve) => {
      child.once('error', (error) => resolve(error.message));
      child.once('exit', (exitCode, signal) => resolve(signal ?? exitCode ?? 1));
    });
    if (!ready && (code === 'SIGINT' || code === 'SIGTERM')) throw new InstallInterrupted(`install interrupted by ${code} before ${shown} began`);
    if (code !== 0) {
      const last = readFileSync(logFile, 'utf8').trim().split('\n').at(-1) ?? '';
      throw new Error(`${shown} ended with ${typeof code === 'number' ? `exit code ${code}` : code}${last ? `: ${last}` : ''}`);
    }
  } finally {
    closeSync(log);
    underway = undefined;
  }
}

export function venvDir(projectRoot: string): string {
  return join(projectRoot, '.targets', 'venv');
}

/** Where an adapter's command lives: absolute as given, otherwise in the project venv. */
export function resolveCommand(projectRoot: string, command: string): string {
  return isAbsolute(command) ? command : join(venvDir(projectRoot), 'bin', command);
}

export function missingCommands(projectRoot: string, requirements: LocalRequirements): string[] {
  return requirements.commands.map((c) => resolveCommand(projectRoot, c)).filter((c) => !existsSync(c));
}

export async function installRequirements(
  projectRoot: string,
  requirements: LocalRequirements[],
  log: (line: string) => void,
  /** Aborted: no further step starts (the one under way finishes), and InstallInterrupted is thrown. */
  signal?: AbortSignal,
): Promise<void> {
  const pip = [...new Set(requirements.flatMap((r) => r.pip ?? []))].sort();
  const apt = [...new Set(requirements.flatMap((r) => r.apt ?? []))].sort();
  const next = (): void => {
    if (signal?.aborted) throw new InstallInterrupted(`install interrupted by ${String(signal.reason)}`);
  };
  if (pip.length > 0) await installPip(projectRoot, pip, log, next);
  if (apt.length > 0) await installApt(projectRoot, apt, log, next);
  const missing = requirements.flatMap((r) => missingCommands(projectRoot, r));
  if (missing.length > 0) throw new InputError(`install finished but these are still missing: ${missing.join(', ')}`);
}

async function installPip(projectRoot: string, pins: string[], log: (line: string) => void, next: () => void): Promise<void> {
  const venv = venvDir(projectRoot);
  const marker = join(venv, '.jitc-requirements');
  const wanted = pins.join('\n');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === wanted) {
    log(`python packages already installed in ${venv}`);
    return;
  }
  const python = await findPython();
  if (!existsSync(join(venv, 'bin', 'pip'))) {
    next();
    try {
      await runStep(projectRoot, python, ['-m', 'venv', venv], () => log(`creating ${venv} with ${python}`));
    } catch (error) {
      if (error instanceof InstallInterrupted) throw error;
      throw new InputError(`could not create ${venv}: ${(error as Error).message}`);
    }
  }
  next();
  try {
    await runStep(projectRoot, join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', ...pins], () =>
      log(`installing ${pins.join(' ')} into ${venv} (takes a minute the first time)`),
    );
  } catch (error) {
    if (error instanceof InstallInterrupted) throw error;
    throw new InputError(`pip could not install ${pins.join(' ')}: ${(error as Error).message}`);
  }
  writeFileSync(marker, wanted);
}

async function findPython(): Promise<string> {
  for (const candidate of ['python3', 'python']) {
    try {
      const { stdout } = await run(candidate, ['-c', 'import sys, venv; print(sys.version_info >= (3, 9))']);
      if (stdout.trim() === 'True') return candidate;
    } catch {
      // try the next name
    }
  }
  throw new InputError('Python 3.9+ with the venv module is needed for the local targets (Debian: apt-get install python3-venv)');
}

async function isDebInstalled(name: string): Promise<boolean> {
  try {
    const { stdout } = await run('dpkg-query', ['-W', '-f=${Status}', name]);
    return stdout.includes('install ok installed');
  } catch {
    return false;
  }
}

async function installApt(projectRoot: string, packages: string[], log: (line: string) => void, next: () => void): Promise<void> {
  const missing: string[] = [];
  for (const p of packages) if (!(await isDebInstalled(p))) missing.push(p);
  if (missing.length === 0) {
    log(`debian packages already installed: ${packages.join(' ')}`);
    return;
  }
  const command = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    throw new InputError(`missing Debian packages ${missing.join(' ')}: run \`sudo apt-get update && sudo ${command}\`, then retry`);
  }
  next();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await runStep(projectRoot, 'apt-get', ['update', '-qq'], () => log(`installing Debian packages ${missing.join(' ')} with apt-get`), env);
    next();
    await runStep(projectRoot, 'apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], () => undefined, env);
  } catch (error) {
    if (error instanceof InstallInterrupted) throw error;
    throw new InputError(`apt-get could not install ${missing.join(' ')}: ${(error as Error).message}`);
  }
}
