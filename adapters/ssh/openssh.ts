/**
 * Running OpenSSH's own client, the one a holder of a certificate would use (the npm ssh2 client
 * knows neither user certificates nor connection sharing). Every run reads no configuration
 * (`-F none`), never asks anything (BatchMode), offers only the identity it is given, pins the
 * host key under an alias from the scenario's own known_hosts, forwards nothing, and runs with an
 * environment of its own: no agent socket, HOME in the scenario's directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { SSH } from './targets.ts';
import type { SshClient } from './client.ts';
import { type ClientFiles, HOST_ALIAS, type KeyFiles } from './client-files.ts';

/** How much of a client's output is kept: enough for `id`, a marker and ssh's own lines. */
const OUTPUT_LIMIT = 64 * 1024;

export interface SshTarget {
  client: SshClient;
  files: ClientFiles;
  port: number;
}

export interface SshOptions {
  keys?: KeyFiles;
  /** `-v`: the client states which keys it offered, so a refusal can be tied to the certificate. */
  verbose?: boolean;
  /** Connection sharing: `master` starts one, `client` goes through one only. Default: neither. */
  sharing?: 'master' | 'client';
}

export function sshArgs(target: SshTarget, options: SshOptions = {}): string[] {
  const { client, files, port } = target;
  const o = (setting: string): string[] => ['-o', setting];
  const args = [
    '-F', 'none',
    ...o('BatchMode=yes'),
    ...o('StrictHostKeyChecking=yes'),
    ...o(`UserKnownHostsFile=${files.knownHosts}`),
    ...o('GlobalKnownHostsFile=/dev/null'),
    ...o(`HostKeyAlias=${HOST_ALIAS}`),
    ...o('UpdateHostKeys=no'),
    ...o('CheckHostIP=no'),
    ...o('ConnectTimeout=5'),
    ...o('PreferredAuthentications=publickey'),
    ...o('IdentitiesOnly=yes'),
    ...o('ForwardAgent=no'),
    ...o('ForwardX11=no'),
    ...o('ClearAllForwardings=yes'),
    ...o('RequestTTY=no'),
    // Without the post-quantum hybrid exchange a login costs the client a seventh of the CPU: the
    // poll logs in several times a second per handle, and the harness's own lag must not eat a
    // 3-second grant. Nothing a probe sends or receives needs protecting for years.
    ...o('KexAlgorithms=-sntrup761x25519-sha512@openssh.com'),
    ...o(`LogLevel=${options.verbose ? 'DEBUG1' : 'ERROR'}`),
  ];
  if (options.keys) {
    args.push(...o(`IdentityFile=${options.keys.key}`));
    if (options.keys.certificate) args.push(...o(`CertificateFile=${options.keys.certificate}`));
  }
  if (options.sharing === 'master') args.push('-M', '-S', files.controlSocket, ...o('ControlPersist=no'));
  else if (options.sharing === 'client') {
    // Through the master only: were its socket gone, ssh would connect by itself, and the
    // ProxyCommand that cannot connect keeps that from ever reaching the server.
    args.push('-S', files.controlSocket, ...o('ControlMaster=no'), ...o('ProxyCommand=/bin/false'), ...o('PubkeyAuthentication=no'));
  } else args.push(...o('ControlMaster=no'), ...o('ControlPath=none'));
  args.push('-p', String(port), '-l', client.user, client.host);
  return args;
}

export function sshEnvironment(files: ClientFiles): NodeJS.ProcessEnv {
  return { PATH: '/usr/bin:/bin', HOME: files.dir, LC_ALL: 'C' };
}

export interface SshRun {
  /** Exit code; null when it ended by a signal (ours, at the time limit, or another's). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Could not be started at all. */
  spawnError?: string;
  /** When it was answered (ended), ISO. */
  at: string;
}

function keep(text: string, chunk: Buffer): string {
  return text.length >= OUTPUT_LIMIT ? text : (text + chunk.toString('utf8')).slice(0, OUTPUT_LIMIT);
}

/** Run `ssh <args> <command>` to its end, killed at `timeoutMs`. */
export function runSsh(target: SshTarget, options: SshOptions, command: string[], timeoutMs = 15_000): Promise<SshRun> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(SSH, [...sshArgs(target, options), ...command], { env: sshEnvironment(target.files), stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      resolve({ code: null, signal: null, stdout: '', stderr: '', timedOut: false, spawnError: String(error), at: new Date().toISOString() });
      return;
    }
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.on('data', (c: Buffer) => (stdout = keep(stdout, c)));
    child.stderr?.on('data', (c: Buffer) => (stderr = keep(stderr, c)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr, timedOut, spawnError: error.message, at: new Date().toISOString() });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, at: new Date().toISOString() });
    });
  });
}
