/**
 * What a scenario worker knows of an sshd: where it listens (one port per profile), the account
 * certificates log in as, its host key, and — only on the local target the harness started — the
 * files behind it: the principals directory, the user CA's key, the server's pid and log. The
 * connection carries them as plain strings (the CLI hands it to workers through the environment);
 * this is the one place they are read back.
 */
import type { TargetConnection } from '../contract.ts';
import { PROFILES, type Profile } from './sshd-config.ts';

export interface LocalFiles {
  /** One empty file per principal sshd accepts (AuthorizedPrincipalsCommand lists them). */
  principalsDir: string;
  /** Private key of the user CA sshd trusts: what a local CA (OpenBao's ssh engine) signs with. */
  caKeyFile: string;
  caPublicKeyFile: string;
  /** sshd's own pid file: its children are the connections it serves. */
  pidFile: string;
  /** sshd's log (LogLevel VERBOSE): logins with key id and serial, sessions, closures. */
  logFile: string;
}

export interface SshClient {
  mode: TargetConnection['mode'];
  host: string;
  /** Port of each profile the target offers. */
  ports: Partial<Record<Profile, number>>;
  user: string;
  /** known_hosts lines pinning the server's host key. */
  knownHosts: string;
  /** The principal an external sshd accepts for `user` (it is not ours to create). */
  principal?: string;
  /** Present on the local target only. */
  local?: LocalFiles;
}

export function connectSsh(connection: TargetConnection): SshClient {
  const s = connection.settings;
  const ports = JSON.parse(s.profilePorts ?? '{}') as Record<string, number>;
  const client: SshClient = {
    mode: connection.mode,
    host: s.host ?? '127.0.0.1',
    ports: Object.fromEntries(PROFILES.flatMap((p) => (typeof ports[p] === 'number' ? [[p, ports[p]]] : []))),
    user: s.user ?? '',
    knownHosts: s.knownHosts ?? '',
  };
  if (s.principal) client.principal = s.principal;
  if (s.principalsDir && s.caKeyFile && s.pidFile && s.logFile) {
    client.local = { principalsDir: s.principalsDir, caKeyFile: s.caKeyFile, caPublicKeyFile: s.caPublicKeyFile ?? `${s.caKeyFile}.pub`, pidFile: s.pidFile, logFile: s.logFile };
  }
  if (!client.user || !client.knownHosts || client.ports.stock === undefined) throw new Error('ssh connection lacks its user, host key or port');
  return client;
}

/** The port a profile answers on; a profile the target does not offer is a scenario that cannot run here. */
export function portOf(client: SshClient, profile: Profile): number {
  const port = client.ports[profile];
  if (port === undefined) {
    const offered = Object.keys(client.ports).join(', ');
    throw new Error(
      client.mode === 'external'
        ? `profile ${profile}: the external sshd offers ${offered} (set ssh.hardenedPort in the config file for a hardened one; the others exist on the local target only)`
        : `profile ${profile}: this sshd offers ${offered}`,
    );
  }
  return port;
}
