/**
 * The files OpenSSH's own client needs for one scenario — the requester's key pair, each handed
 * credential's private key and certificate, the pinned host key, the control socket of a
 * connection-sharing master — in one directory of its own: `<tmp>/jitc-ssh-clients/<prefix>`,
 * mode 0700, removed at teardown, and swept by the run prefix it carries if a run was killed.
 * The base directory must be the harness's own (a directory, not a link, owned by this user,
 * 0700): in a shared /tmp anybody could otherwise have made it first.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Credential } from '../contract.ts';
import type { SshClient } from './client.ts';

/** The name probes pin the host key under (HostKeyAlias): the port and address never have to match a pattern. */
export const HOST_ALIAS = 'jitc-ssh-target';

export function clientsBase(): string {
  return join(tmpdir(), 'jitc-ssh-clients');
}

/** Create (or check) the base directory: ours, 0700, not a link. */
function ownBase(): string {
  const base = clientsBase();
  if (!existsSync(base)) mkdirSync(base, { mode: 0o700 });
  const stat = lstatSync(base);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o077) !== 0) {
    throw new Error(`${base} is not a private directory of this user (a directory, owned by it, mode 0700): refusing to keep keys there`);
  }
  return base;
}

/**
 * The directory name for a scenario prefix. A control socket's path must fit in a sockaddr_un
 * (108 bytes, with the random suffix ssh adds while creating it), so a long prefix is shortened,
 * keeping its start (the run prefix the sweep matches) and a hash of the rest.
 */
export function dirNameOf(prefix: string): string {
  if (prefix.length <= 44) return prefix;
  return `${prefix.slice(0, 36)}-${createHash('sha256').update(prefix).digest('hex').slice(0, 7)}`;
}

export interface ClientFiles {
  dir: string;
  knownHosts: string;
  /** The connection-sharing master's control socket. */
  controlSocket: string;
}

/** The scenario's directory, made 0700 with the pinned host key in it. */
export function scenarioFiles(client: SshClient, prefix: string): ClientFiles {
  const dir = join(ownBase(), dirNameOf(prefix));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, client.knownHosts.split('\n').map((key) => `${HOST_ALIAS} ${key}\n`).join(''), { mode: 0o600 });
  return { dir, knownHosts, controlSocket: join(dir, 'm') };
}

export interface KeyFiles {
  key: string;
  certificate?: string;
}

/**
 * A handed certificate's key pair, written once per certificate (named by a hash of the
 * certificate, never by anything secret): ssh reads the key from a 0600 file only.
 */
export function credentialFiles(files: ClientFiles, credential: Extract<Credential, { type: 'ssh-certificate' }>): KeyFiles {
  const name = `cred-${createHash('sha256').update(credential.certificate).digest('hex').slice(0, 12)}`;
  const key = join(files.dir, name);
  const certificate = `${key}-cert.pub`;
  if (!existsSync(certificate)) {
    writeFileSync(key, credential.privateKey.endsWith('\n') ? credential.privateKey : `${credential.privateKey}\n`, { mode: 0o600 });
    writeFileSync(certificate, `${credential.certificate.trim()}\n`, { mode: 0o644 });
  }
  return { key, certificate };
}

/** Remove the scenario's directory; returns what was removed, as teardown words it. */
export function removeScenarioFiles(prefix: string): string[] {
  const dir = join(clientsBase(), dirNameOf(prefix));
  if (!existsSync(dir)) return [];
  rmSync(dir, { recursive: true, force: true });
  return [`client directory ${dir}`];
}

/** Directories of the base whose names start with `start` (a run prefix, or `jitc-` for any run). */
export function clientDirsStartingWith(start: string): string[] {
  const base = clientsBase();
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .filter((name) => name.startsWith(start))
    .map((name) => join(base, name));
}
