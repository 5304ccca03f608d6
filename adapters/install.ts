/**
 * `jitc targets install`: the local targets' software, installed into the project idempotently.
 * Python packages go into a project venv (.targets/venv) at pinned versions; Debian packages are
 * installed with apt when missing and the harness may (root), otherwise the exact command is given.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { InputError, type LocalRequirements } from './contract.ts';

const run = promisify(execFile);

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
): Promise<void> {
  const pip = [...new Set(requirements.flatMap((r) => r.pip ?? []))].sort();
  const apt = [...new Set(requirements.flatMap((r) => r.apt ?? []))].sort();
  if (pip.length > 0) await installPip(projectRoot, pip, log);
  if (apt.length > 0) await installApt(apt, log);
  const missing = requirements.flatMap((r) => missingCommands(projectRoot, r));
  if (missing.length > 0) throw new InputError(`install finished but these are still missing: ${missing.join(', ')}`);
}

async function installPip(projectRoot: string, pins: string[], log: (line: string) => void): Promise<void> {
  const venv = venvDir(projectRoot);
  const marker = join(venv, '.jitc-requirements');
  const wanted = pins.join('\n');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === wanted) {
    log(`python packages already installed in ${venv}`);
    return;
  }
  const python = await findPython();
  if (!existsSync(join(venv, 'bin', 'python'))) {
    log(`creating ${venv} with ${python}`);
    await run(python, ['-m', 'venv', venv]);
  }
  log(`installing ${pins.join(' ')} into ${venv} (takes a minute the first time)`);
  try {
    await run(join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', ...pins], { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new InputError(`pip could not install ${pins.join(' ')}: ${stderr.trim().split('\n').at(-1) ?? String(error)}`);
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

async function installApt(packages: string[], log: (line: string) => void): Promise<void> {
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
  log(`installing Debian packages ${missing.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['update', '-qq'], { env, maxBuffer: 64 * 1024 * 1024 });
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new InputError(`apt-get could not install ${missing.join(' ')}: ${stderr.trim().split('\n').at(-1) ?? String(error)}`);
  }
}
