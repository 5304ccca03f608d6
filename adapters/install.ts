/**
 * `jitc targets install`: the local targets' software, installed into the project idempotently.
 * Python packages go into a venv in the local state directory (adapters/paths.ts: .targets/venv in
 * a checkout) at pinned versions; Debian packages are installed with apt when missing and the
 * harness may (root), otherwise the exact command is given.
 * A package's own system service (slapd, ssh, postgresql) is forbidden to start while it installs
 * (Debian's policy-rc.d) and disabled afterwards: the harness runs its own servers on 127.0.0.1,
 * never the system's daemons on every interface.
 *
 * Each install step runs in its own process group with its output in `.targets/install.log`, not
 * in a pipe: a Ctrl-C in the terminal never reaches it, and it finishes even if jitc exits
 * meanwhile — an apt-get or dpkg stopped half-way leaves the system's packages broken.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, createReadStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, delimiter, dirname, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { type Download, type GoBuild, type LocalRequirements } from './contract.ts';
import { InputError } from '../scenarios/input.ts';
import { targetsPath } from './paths.ts';
import { HolderLock } from './holder-lock.ts';

const run = promisify(execFile);

/** The install step running now (`apt-get install -y slapd`), if any: what a second Ctrl-C leaves to finish. */
let underway: string | undefined;

export function installUnderway(): string | undefined {
  return underway;
}

export function installLog(projectRoot: string): string {
  return targetsPath(projectRoot, 'install.log');
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
  return targetsPath(projectRoot, 'venv');
}

/** Where an adapter's command lives: absolute as given, otherwise in the project venv. */
export function resolveCommand(projectRoot: string, command: string): string {
  return isAbsolute(command) ? command : join(venvDir(projectRoot), 'bin', command);
}

/** Where a program built with Go is placed. */
export function builtProgram(projectRoot: string, binary: string): string {
  return targetsPath(projectRoot, binary);
}

/** Where a downloaded archive was unpacked. */
export function downloadedDir(projectRoot: string, into: string): string {
  return targetsPath(projectRoot, into);
}

/** Written last, once the archive is verified, unpacked and built: its presence is what "installed" means. */
function downloadMarker(projectRoot: string, download: Download): string {
  return join(downloadedDir(projectRoot, download.into), '.jitc-download');
}

export function missingCommands(projectRoot: string, requirements: LocalRequirements): string[] {
  const built = (requirements.go ?? []).map((g) => builtProgram(projectRoot, g.binary));
  const unpacked = (requirements.download ?? []).map((d) => downloadMarker(projectRoot, d));
  return [...requirements.commands.map((c) => resolveCommand(projectRoot, c)), ...built, ...unpacked].filter((c) => !existsSync(c));
}

export async function installRequirements(
  projectRoot: string,
  requirements: LocalRequirements[],
  log: (line: string) => void,
  /** Aborted: no further step starts (the one under way finishes), and InstallInterrupted is thrown. */
  signal?: AbortSignal,
): Promise<void> {
  const next = (): void => {
    if (signal?.aborted) throw new InstallInterrupted(`install interrupted by ${String(signal.reason)}`);
  };
  // Two jitc processes on a fresh clone (two terminals, tests beside a run) would download to the
  // same file and unpack into the same folder: the second waits, then finds each step done.
  const root = targetsPath(projectRoot);
  mkdirSync(root, { recursive: true });
  let lock: HolderLock;
  try {
    lock = await HolderLock.waitToTake(root, INSTALL_LOCK, { runId: '', command: 'targets install' }, 'local targets', log, signal);
  } catch (error) {
    next();
    throw error;
  }
  try {
    await installAll(projectRoot, requirements, log, next);
  } finally {
    lock.release();
  }
}

const INSTALL_LOCK = { name: '.jitc-install.lock', rule: 'one install of the local targets at a time' };

async function installAll(projectRoot: string, requirements: LocalRequirements[], log: (line: string) => void, next: () => void): Promise<void> {
  const pip = [...new Set(requirements.flatMap((r) => r.pip ?? []))].sort();
  const apt = [...new Set(requirements.flatMap((r) => r.apt ?? []))].sort();
  const services: Record<string, string> = Object.assign({}, ...requirements.map((r) => r.services ?? {}));
  if (pip.length > 0) await installPip(projectRoot, pip, log, next);
  if (apt.length > 0) await installApt(projectRoot, apt, services, log, next);
  const builds = requirements.flatMap((r) => r.go ?? []);
  if (builds.length > 0) await installGo(projectRoot, builds, log, next);
  for (const download of requirements.flatMap((r) => r.download ?? [])) await installDownload(projectRoot, download, log, next);
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

/**
 * Build each program with the machine's Go, its module cache and build cache kept under
 * `.targets/go` (made writable, so removing `.targets` needs no `go clean`). A program already
 * built from the same package and version is kept.
 */
async function installGo(projectRoot: string, builds: GoBuild[], log: (line: string) => void, next: () => void): Promise<void> {
  const root = targetsPath(projectRoot, 'go');
  const stated = (b: GoBuild): string => join(root, 'built', b.binary.replaceAll('/', '_'));
  const todo = builds.filter((b) => !existsSync(builtProgram(projectRoot, b.binary)) || !existsSync(stated(b)) || readFileSync(stated(b), 'utf8') !== b.package);
  if (todo.length === 0) {
    log(`go programs already built: ${builds.map((b) => b.binary).join(' ')}`);
    return;
  }
  const go = await findGo(todo);
  const env = { ...process.env, GOPATH: root, GOCACHE: join(root, 'cache'), GOBIN: join(root, 'bin'), GOFLAGS: '-modcacherw' };
  for (const build of todo) {
    next();
    try {
      await runStep(projectRoot, go, ['install', build.package], () => log(`building ${build.package} with Go into ${builtProgram(projectRoot, build.binary)} (a minute or two the first time)`), env);
    } catch (error) {
      if (error instanceof InstallInterrupted) throw error;
      throw new InputError(`go could not build ${build.package}: ${(error as Error).message}`);
    }
    const program = builtProgram(projectRoot, build.binary);
    mkdirSync(dirname(program), { recursive: true });
    copyFileSync(join(root, 'bin', basename(build.package.split('@')[0]!)), program);
    chmodSync(program, 0o755);
    mkdirSync(dirname(stated(build)), { recursive: true });
    writeFileSync(stated(build), build.package);
  }
}

/** A program on PATH (or given by its absolute path), as the shell would find it. */
export function onPath(program: string): string | undefined {
  if (isAbsolute(program)) return existsSync(program) ? program : undefined;
  return (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, program)).find((candidate) => existsSync(candidate));
}

async function digestOf(file: string, algorithm: 'sha256' | 'sha1'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Fetch a published archive into `.targets/downloads`, verify it against the pinned SHA-256 (and
 * the publisher's own `.sha1`), unpack it beside, then run its build step once. Every step but the
 * checksum runs through {@link runStep}; the marker is written last, so an interrupted install
 * starts again from the archive, which is kept once verified.
 */
async function installDownload(projectRoot: string, download: Download, log: (line: string) => void, next: () => void): Promise<void> {
  const dir = downloadedDir(projectRoot, download.into);
  const marker = downloadMarker(projectRoot, download);
  if (existsSync(marker)) {
    log(`${download.into} already installed in ${dir}`);
    return;
  }
  for (const tool of [{ program: 'curl', hint: 'Debian: apt-get install curl' }, { program: 'unzip', hint: 'Debian: apt-get install unzip' }, ...(download.needs ?? [])]) {
    if (!onPath(tool.program)) throw new InputError(`${tool.program} is needed to install ${download.into} for the local targets and was not found on PATH (${tool.hint})`);
  }
  const downloads = targetsPath(projectRoot, 'downloads');
  mkdirSync(downloads, { recursive: true });
  const archive = join(downloads, basename(new URL(download.url).pathname));
  if (!existsSync(archive) || (await digestOf(archive, 'sha256')) !== download.sha256) {
    const partial = `${archive}.part`;
    rmSync(partial, { force: true });
    next();
    try {
      await runStep(projectRoot, 'curl', ['-fsSL', '--retry', '2', '-o', partial, download.url], () => log(`downloading ${download.url}`));
    } catch (error) {
      if (error instanceof InstallInterrupted) throw error;
      throw new InputError(`could not download ${download.url}: ${(error as Error).message}`);
    }
    const measured = await digestOf(partial, 'sha256');
    if (measured !== download.sha256) {
      rmSync(partial, { force: true });
      throw new InputError(`${download.url} has SHA-256 ${measured}, not the pinned ${download.sha256}: refusing to install it`);
    }
    renameSync(partial, archive);
  }
  if (download.sha1Url) await checkPublishedSha1(archive, download.sha1Url);
  const staging = `${dir}.unpacking`;
  rmSync(staging, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  next();
  try {
    await runStep(projectRoot, 'unzip', ['-q', archive, '-d', staging], () => log(`unpacking ${basename(archive)} into ${dir}`));
  } catch (error) {
    if (error instanceof InstallInterrupted) throw error;
    throw new InputError(`could not unpack ${archive}: ${(error as Error).message}`);
  }
  // A release archive holds one top folder (keycloak-26.7.3/): that folder is the installation.
  const top = readdirSync(staging);
  renameSync(top.length === 1 && top[0] ? join(staging, top[0]) : staging, dir);
  rmSync(staging, { recursive: true, force: true });
  if (download.then) {
    next();
    const step = download.then;
    try {
      await runStep(projectRoot, join(dir, step.command), step.args, () => log(step.describe));
    } catch (error) {
      if (error instanceof InstallInterrupted) throw error;
      throw new InputError(`${download.into}: ${step.command} ${step.args.join(' ')} failed: ${(error as Error).message}`);
    }
  }
  writeFileSync(marker, `${download.url}\n${download.sha256}\n`);
}

/** The publisher's own checksum, read beside the archive: a pinned SHA-256 that no longer matches the published file is a question to ask, not to pass over. */
async function checkPublishedSha1(archive: string, sha1Url: string): Promise<void> {
  let published: string;
  try {
    const answer = await fetch(sha1Url, { signal: AbortSignal.timeout(20_000) });
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    published = (await answer.text()).trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  } catch (error) {
    throw new InputError(`could not read the published checksum ${sha1Url}: ${(error as Error).message}`);
  }
  const measured = await digestOf(archive, 'sha1');
  if (published !== measured) throw new InputError(`${basename(archive)} has SHA-1 ${measured}, but ${sha1Url} publishes ${published || 'nothing'}: refusing to install it`);
}

/** The machine's Go: on PATH, or where its official archive installs it. */
async function findGo(builds: GoBuild[]): Promise<string> {
  for (const candidate of ['go', '/usr/local/go/bin/go']) {
    try {
      await run(candidate, ['version']);
      return candidate;
    } catch {
      // try the next place
    }
  }
  throw new InputError(`Go 1.21 or later is needed to build ${builds.map((b) => b.package).join(', ')} for the local targets (it fetches the Go release the program asks for from the module proxy); install it (https://go.dev/doc/install), then retry`);
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

async function installApt(projectRoot: string, packages: string[], services: Record<string, string>, log: (line: string) => void, next: () => void): Promise<void> {
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
  const daemons = missing.flatMap((p) => (services[p] ? [services[p]] : []));
  await withServiceStartsForbidden(daemons, async () => {
    try {
      await runStep(projectRoot, 'apt-get', ['update', '-qq'], () => log(`installing Debian packages ${missing.join(' ')} with apt-get (their services kept stopped)`), env);
      next();
      await runStep(projectRoot, 'apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], () => undefined, env);
    } catch (error) {
      if (error instanceof InstallInterrupted) throw error;
      throw new InputError(`apt-get could not install ${missing.join(' ')}: ${(error as Error).message}`);
    }
  });
  for (const daemon of daemons) log(await disableService(daemon));
}

/** Debian's hook that maintainer scripts ask before starting a service; exit 101 forbids. */
const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const OUR_POLICY = '#!/bin/sh\n# Written by jitc while it installs local targets: no service may start. Removed when the install ends.\nexit 101\n';

/**
 * Run an install with the packages' services forbidden to start: a package such as slapd or
 * openssh-server would otherwise start the system's own daemon, listening on every interface.
 * A policy-rc.d that is not jitc's is never replaced: it must forbid the starts itself, or the
 * install is refused with what to do.
 */
export async function withServiceStartsForbidden(daemons: string[], install: () => Promise<void>, hook = POLICY_RC_D): Promise<void> {
  if (existsSync(hook) && readFileSync(hook, 'utf8') !== OUR_POLICY) {
    for (const daemon of daemons) {
      const code = await new Promise<number | null>((resolve) => execFile(hook, [daemon, 'start'], (error) => resolve(error ? (typeof error.code === 'number' ? error.code : null) : 0)));
      if (code !== 101) {
        throw new InputError(`${hook} lets ${daemon} start (it answers ${code ?? 'nothing'}, not 101): installing it would start the system's own daemon; make it forbid service starts while the local targets install, then retry`);
      }
    }
    return install();
  }
  // Ours, or left by an install of ours that was killed: written again, removed after.
  writeFileSync(hook, OUR_POLICY);
  // A mode given to writeFileSync applies to a new file only: one left behind keeps its own.
  chmodSync(hook, 0o755);
  try {
    await install();
  } finally {
    if (existsSync(hook) && readFileSync(hook, 'utf8') === OUR_POLICY) rmSync(hook);
  }
}

/** Keep a service the install just brought from starting at boot; says what it did. Only for packages jitc itself installed. */
async function disableService(daemon: string): Promise<string> {
  const [command, args] = existsSync('/run/systemd/system') ? ['systemctl', ['disable', '--quiet', daemon]] : ['update-rc.d', [daemon, 'disable']];
  try {
    await run(command, args);
    return `the system's ${daemon} service is disabled (${command} ${args.join(' ')}): jitc runs its own server`;
  } catch (error) {
    return `could not disable the system's ${daemon} service (${command} ${args.join(' ')}: ${(error as Error).message.split('\n')[0]}); it was not started`;
  }
}
