/**
 * Reaching an sshd. `local` starts the harness's own OpenSSH sshd (Debian `openssh-server`) in
 * the foreground, from an sshd_config in its work directory (sshd-config.ts), on 127.0.0.1 with
 * one free port per profile, with its own host key and its own user CA made by ssh-keygen there.
 * It needs root: sshd logs certificates in as the dedicated local account (local-user.ts), which
 * it also creates when missing, and it needs its privilege-separation directory /run/sshd, made
 * when missing. `external` names a user's sshd in the config file's `ssh:` section; its CA is the
 * one the Vault ssh mount the scenario names signs with, and nothing is configured on it.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { parseSection } from '../config-section.ts';
import type { ProvisionOptions, StartedTarget, TargetConnection, TargetProvisioning } from '../contract.ts';
import { freePort, startLocalServer } from '../local-process.ts';
import { InputError } from '../../scenarios/input.ts';
import { ensureLocalUser, LOCAL_USER } from './local-user.ts';
import { PROFILES, type Profile, sessionLimitScript, sshdConfig } from './sshd-config.ts';

const run = promisify(execFile);

export const SSHD = '/usr/sbin/sshd';
export const SSH = '/usr/bin/ssh';
export const SSH_KEYGEN = '/usr/bin/ssh-keygen';
const PRIVSEP_DIR = '/run/sshd';
const HOST = '127.0.0.1';

/** The settings every connection carries; the local target adds the files behind its sshd. */
interface Settings {
  host: string;
  user: string;
  knownHosts: string;
  ports: Partial<Record<Profile, number>>;
  principal?: string;
  local?: { principalsDir: string; caKeyFile: string; caPublicKeyFile: string; pidFile: string; logFile: string };
}

function buildConnection(mode: TargetConnection['mode'], s: Settings, facts: Record<string, string>): TargetConnection {
  const settings: Record<string, string> = {
    host: s.host,
    port: String(s.ports.stock),
    ...(s.ports.hardened === undefined ? {} : { hardenedPort: String(s.ports.hardened) }),
    profilePorts: JSON.stringify(s.ports),
    user: s.user,
    knownHosts: s.knownHosts,
    ...(s.principal ? { principal: s.principal } : {}),
    ...(s.local ?? {}),
  };
  // The user CA's private key is a file on this machine: its path is no secret, its content never leaves the file.
  return { adapter: 'ssh', mode, address: `ssh://${s.host}:${s.ports.stock}`, settings, secretSettings: [], facts };
}

/** Resolves with sshd's identification line (`SSH-2.0-OpenSSH_9.2p1 …`), or rejects. */
export function readBanner(host: string, port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    let text = '';
    const done = (error?: Error): void => {
      socket.destroy();
      if (error) reject(error);
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`no identification from ${host}:${port} in ${timeoutMs} ms`)));
    socket.on('error', (error: NodeJS.ErrnoException) => done(new Error(error.code ?? error.message)));
    socket.on('close', () => reject(new Error(`${host}:${port} closed the connection before identifying itself`)));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const line = /^(.*?)\r?\n/.exec(text)?.[1];
      if (line === undefined) return;
      done();
      if (line.startsWith('SSH-2.0-')) resolve(line);
      else reject(new Error(`${host}:${port} answered ${JSON.stringify(line.slice(0, 40))}, not an SSH identification`));
    });
  });
}

/**
 * The host keys of known_hosts lines (or bare `type base64` lines), as `type base64` each. Probes
 * pin them under an alias, so the patterns of the user's lines (host, port) never have to match.
 */
export function hostKeysOf(text: string): string[] {
  const keys: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('@revoked')) continue;
    const fields = line.split(/\s+/);
    const at = fields.findIndex((f) => /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-[a-z0-9@.-]+)$/.test(f));
    const key = at >= 0 ? fields[at + 1] : undefined;
    if (at >= 0 && key && /^[A-Za-z0-9+/]+=*$/.test(key)) keys.push(`${fields[at]} ${key}`);
  }
  return keys;
}

async function keygen(args: string[]): Promise<void> {
  try {
    await run(SSH_KEYGEN, args);
  } catch (error) {
    throw new Error(`ssh-keygen ${args.join(' ')}: ${(error as { stderr?: string }).stderr?.trim() || String(error)}`);
  }
}

/** Distinct free ports, one per profile. */
async function profilePorts(): Promise<Record<Profile, number>> {
  const taken = new Set<number>();
  while (taken.size < PROFILES.length) taken.add(await freePort());
  const ports = [...taken];
  return Object.fromEntries(PROFILES.map((p, i) => [p, ports[i]!])) as Record<Profile, number>;
}

/**
 * sshd running as root refuses to start — even to check its configuration (-t, -T) — without its
 * privilege-separation directory, which the system's own service would make at boot. Made here
 * when missing, as Debian's service makes it: root's, mode 0755, empty.
 */
export function ensurePrivsepDir(log: (line: string) => void): void {
  if (existsSync(PRIVSEP_DIR)) return;
  mkdirSync(PRIVSEP_DIR, { mode: 0o755 });
  log(`ssh: created ${PRIVSEP_DIR}, sshd's privilege separation directory`);
}

const port = z.number().int().min(1).max(65535);

const externalConfig = z
  .strictObject({
    host: z.string({ error: 'required: the host name or address of the sshd' }).min(1),
    /** The port of its stock profile. */
    port: port.default(22),
    /** A port where the same sshd ends sessions with the certificate (a hardened configuration), if it has one. */
    hardenedPort: port.optional(),
    user: z.string({ error: 'required: the account certificates log in as' }).regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'a local account name'),
    /** The principal the sshd accepts for `user`; default: the account name itself (sshd's rule without AuthorizedPrincipals*). */
    principal: z.string().min(1).optional(),
    /** The server's host key: a known_hosts line, or `type base64`. */
    knownHosts: z.string().min(1).optional(),
    /** A known_hosts file holding it. */
    knownHostsFile: z.string().min(1).optional(),
  })
  .refine((c) => c.knownHosts !== undefined || c.knownHostsFile !== undefined, {
    message: 'required: knownHosts (a known_hosts line) or knownHostsFile, to pin the server host key',
    path: ['knownHosts'],
  });

export const sshTargets: TargetProvisioning = {
  configSection: externalConfig,
  local: {
    requirements: { apt: ['openssh-server', 'openssh-client'], services: { 'openssh-server': 'ssh' }, commands: [SSHD, SSH, SSH_KEYGEN] },
    async start(options: ProvisionOptions): Promise<StartedTarget> {
      const began = Date.now();
      if (process.getuid?.() !== 0) throw new Error('the local ssh target needs root: sshd switches to a dedicated local account for every login, which only root can do');
      await ensureLocalUser(options.log);
      ensurePrivsepDir(options.log);
      const root = options.workDir;
      // The session-limit script runs as the dedicated account: it may pass through, never list.
      chmodSync(root, 0o711);
      const files = {
        hostKey: join(root, 'host_key'),
        userCaKey: join(root, 'user_ca'),
        principalsDir: join(root, 'principals'),
        pidFile: join(root, 'sshd.pid'),
        sessionLimit: join(root, 'session-limit'),
        config: join(root, 'sshd_config'),
      };
      await keygen(['-q', '-t', 'ed25519', '-N', '', '-C', `jitc-${options.runId}-host`, '-f', files.hostKey]);
      await keygen(['-q', '-t', 'ed25519', '-N', '', '-C', `jitc-${options.runId}-user-ca`, '-f', files.userCaKey]);
      mkdirSync(files.principalsDir, { mode: 0o700 });
      writeFileSync(files.sessionLimit, sessionLimitScript(), { mode: 0o755 });
      const ports = await profilePorts();
      const paths = { hostKey: files.hostKey, userCaPublicKey: `${files.userCaKey}.pub`, principalsDir: files.principalsDir, pidFile: files.pidFile, sessionLimit: files.sessionLimit };
      writeFileSync(files.config, sshdConfig({ host: HOST, ports, user: LOCAL_USER, paths }), { mode: 0o600 });
      try {
        await run(SSHD, ['-t', '-f', files.config]);
      } catch (error) {
        throw new Error(`sshd refuses the configuration jitc wrote: ${(error as { stderr?: string }).stderr?.trim() || String(error)}`);
      }
      let banner = '';
      const server = await startLocalServer({
        name: 'sshd',
        command: SSHD,
        // -D: stay in the foreground (the pid recorded is the server's); -e: log to the log file.
        args: ['-D', '-e', '-f', files.config],
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
        workDir: root,
        projectRoot: options.projectRoot,
        runId: options.runId,
        ready: async () => {
          const banners = await Promise.all(PROFILES.map((p) => readBanner(HOST, ports[p], 1000)));
          banner = banners[0] ?? '';
          return true;
        },
      });
      const version = /^SSH-2\.0-(\S+)/.exec(banner)?.[1] ?? 'unknown';
      const coldStartMs = Date.now() - began;
      const portList = PROFILES.map((p) => `${p} ${ports[p]}`).join(', ');
      options.log(`ssh: ${version} sshd on ${HOST} (${portList}; pid ${server.pid}; up in ${coldStartMs} ms)`);
      const hostKey = hostKeysOf(readFileSync(`${files.hostKey}.pub`, 'utf8'));
      return {
        connection: buildConnection(
          'local',
          {
            host: HOST,
            user: LOCAL_USER,
            knownHosts: hostKey.join('\n'),
            ports,
            local: { principalsDir: files.principalsDir, caKeyFile: files.userCaKey, caPublicKeyFile: `${files.userCaKey}.pub`, pidFile: files.pidFile, logFile: server.logFile },
          },
          {
            product: 'OpenSSH',
            version,
            mode: 'local sshd, own configuration, host key and user CA in a temporary directory',
            profiles: portList,
            coldStartMs: String(coldStartMs),
          },
        ),
        pid: server.pid,
        stop: server.stop,
      };
    },
  },

  external: {
    /** No environment variable names an sshd and its pinned host key: only the config file does. */
    configured: (options) => Object.keys(options.config).length > 0,
    howToConfigure: 'name it in an ssh: section of the config file, with its host, user and knownHosts',
    async connect(options: ProvisionOptions): Promise<TargetConnection> {
      const cfg = parseSection(externalConfig, 'ssh', options);
      let text = cfg.knownHosts ?? '';
      if (cfg.knownHostsFile) {
        try {
          text += `\n${readFileSync(cfg.knownHostsFile, 'utf8')}`;
        } catch (error) {
          throw new InputError(`external ssh target: ssh.knownHostsFile ${cfg.knownHostsFile} is not readable (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
        }
      }
      const keys = hostKeysOf(text);
      if (keys.length === 0) throw new InputError('external ssh target: ssh.knownHosts holds no host key (expected a known_hosts line such as "host ssh-ed25519 AAAA…")');
      const ports: Partial<Record<Profile, number>> = { stock: cfg.port, ...(cfg.hardenedPort === undefined ? {} : { hardened: cfg.hardenedPort }) };
      let version = 'unknown';
      for (const [profile, p] of Object.entries(ports)) {
        try {
          version = /^SSH-2\.0-(\S+)/.exec(await readBanner(cfg.host, p, 5000))?.[1] ?? version;
        } catch (error) {
          throw new InputError(`external ssh target ${cfg.host}:${p} (${profile}) is not usable: ${(error as Error).message}`);
        }
      }
      return buildConnection('external', { host: cfg.host, user: cfg.user, knownHosts: keys.join('\n'), ports, principal: cfg.principal ?? cfg.user }, { product: 'OpenSSH-compatible sshd', version, mode: 'external' });
    },
  },
};
