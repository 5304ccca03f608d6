/**
 * Reaching a directory.
 * - `local`: the harness's own slapd (Debian `slapd`), configured from slapd.conf in the run's work
 *   directory (never /etc/ldap, never the system's slapd), seeded with slapadd, listening on
 *   ldap://127.0.0.1:<free port>, in the foreground (`-d 0`) so the recorded pid is the server's.
 * - `container`: the same configuration inside an OpenLDAP image, through testcontainers.
 * - `external`: any LDAPv3 directory (OpenLDAP, 389-DS, Active Directory) from the config file and
 *   the OpenLDAP client environment (LDAPURI, LDAPBINDDN, LDAPBASE); the password only from an
 *   environment variable the config names.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from 'ldapts';
import { z } from 'zod';
import { envName } from '../param-fields.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { parseSection } from '../config-section.ts';
import { type ProvisionOptions, type StartedTarget, type TargetConnection, type TargetProvisioning } from '../contract.ts';
import { freePort, startLocalServer } from '../local-process.ts';
import { bindBroker, openConnection, values } from './client.ts';
import { type DirectoryFlavour, type DirectoryLayout, type LdapSettings, layoutToSettings, localLayout, settingsSchema } from './layout.ts';
import { sshaHash } from './passwords.ts';
import { ldapErrorText, whoAmI } from './probes.ts';
import { type SlapdPaths, seedLdif, slapdConf, unauditedLdif } from './slapd-config.ts';
import { InputError } from '../../scenarios/input.ts';

export const SLAPD = '/usr/sbin/slapd';
export const SLAPADD = '/usr/sbin/slapadd';
/** Debian's OpenLDAP packaging: modules and schema where slapd.conf expects them, locally and in the image. */
const DEBIAN_PATHS = { modulePath: '/usr/lib/ldap', schemaDir: '/etc/ldap/schema' } as const;
/** Debian-based image with slapd and its overlay modules at the Debian paths (OpenLDAP 2.4.57). */
export const CONTAINER_IMAGE = 'osixia/openldap:1.5.0';

const run = promisify(execFile);

function buildConnection(mode: TargetConnection['mode'], settings: LdapSettings, facts: Record<string, string>): TargetConnection {
  return { adapter: 'ldap', mode, address: settings.url, settings: { ...settings }, secretSettings: ['password'], facts };
}

function localSettings(layout: DirectoryLayout, url: string, password: string): LdapSettings {
  return settingsSchema.parse({ url, bindDn: layout.rootDn, password, flavour: 'openldap', timeoutMs: '5000', ...layoutToSettings(layout) });
}

/** The server answers, binds the broker and holds the seeded grant group. */
async function answers(settings: LdapSettings): Promise<boolean> {
  const client = openConnection({ ...settings, timeoutMs: '2000' });
  try {
    await bindBroker(client, settings);
    const found = await client.search(settings.grantGroupDn, { scope: 'base', attributes: ['1.1'] });
    return found.searchEntries.length === 1;
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

async function slapdVersion(): Promise<string> {
  try {
    const { stdout, stderr } = await run(SLAPD, ['-VV']);
    return /slapd ([0-9][^\s$]*)/.exec(`${stdout}\n${stderr}`)?.[1] ?? 'unknown';
  } catch (error) {
    // `slapd -VV` exits non-zero on some builds after printing the version.
    const e = error as { stdout?: string; stderr?: string };
    return /slapd ([0-9][^\s$]*)/.exec(`${e.stdout ?? ''}\n${e.stderr ?? ''}`)?.[1] ?? 'unknown';
  }
}

interface Seeded {
  conf: string;
  files: { path: string; content: string }[];
}

/** slapd.conf and seed LDIF for a data root; shared by `local` and `container`. */
function writeConfiguration(layout: DirectoryLayout, root: string, password: string): Seeded {
  const paths: SlapdPaths = { dataDir: join(root, 'data'), pidFile: join(root, 'slapd.pid'), argsFile: join(root, 'slapd.args'), ...DEBIAN_PATHS };
  const conf = join(root, 'slapd.conf');
  const files = [
    { path: conf, content: slapdConf(layout, paths, sshaHash(password)) },
    // The protected value is random per target and never leaves the directory except through a granted read.
    { path: join(root, 'seed.ldif'), content: seedLdif(layout, randomBytes(12).toString('hex'), { o: 'jitc', dc: 'jitc' }) },
    ...(layout.unauditedDn ? [{ path: join(root, 'unaudited.ldif'), content: unauditedLdif(layout.unauditedDn) }] : []),
  ];
  return { conf, files };
}

const externalConfig = z.strictObject({
  /** ldap:// or ldaps:// URL; default: $LDAPURI. */
  url: z.string().regex(/^ldaps?:\/\/[^\s]+$/, 'an ldap:// or ldaps:// URL').optional(),
  /** The broker's bind DN; default: $LDAPBINDDN. */
  bindDn: z.string().min(3).optional(),
  /** Name of the environment variable holding the bind password; the password never sits in a file. */
  passwordEnv: envName.default('LDAP_BIND_PASSWORD'),
  /** Bind with SASL instead of a simple bind (EXTERNAL uses the TLS client certificate). */
  saslMechanism: z.enum(['EXTERNAL', 'PLAIN', 'DIGEST-MD5', 'SCRAM-SHA-1']).optional(),
  startTls: z.boolean().default(false),
  tls: z.strictObject({ caFile: z.string().optional(), certFile: z.string().optional(), keyFile: z.string().optional() }).optional(),
  timeoutMs: z.number().int().positive().default(5000),
  /** Default: $LDAPBASE. */
  baseDn: z.string().min(3).optional(),
  /** The group whose members (nested groups included, if the ACL says so) may perform the privileged action. */
  grantGroupDn: z.string({ error: 'required: the DN of the group whose members the ACL lets read resourceDn' }).min(3),
  /** The entry and attribute whose read is the privileged action. */
  resourceDn: z.string({ error: 'required: the DN of the entry whose resourceAttribute only grantGroupDn members may read' }).min(3),
  resourceAttribute: z.string().min(1).default('description'),
  accountsDn: z.string().min(3).optional(),
  groupsDn: z.string().min(3).optional(),
  dnGrantedDn: z.string().min(3).optional(),
  /**
   * The accesslog suffix jitc may read (OpenLDAP: the logdb of slapo-accesslog). Not assumed: without
   * it the directory's own trail is not evidenced, and jitc never enables or changes a log there.
   */
  accessLogDn: z.string().min(2).optional(),
  emptyMember: z.string().optional(),
  groupObjectClass: z.string().min(1).optional(),
  accountObjectClasses: z.array(z.string().min(1)).min(1).optional(),
  passwordAttribute: z.enum(['userPassword', 'unicodePwd']).optional(),
});

interface RootDse {
  flavour: DirectoryFlavour;
  product: string;
  version: string;
}

function rootDseOf(dse: Record<string, unknown> | undefined): RootDse {
  const vendor = values(dse, 'vendorName')[0] ?? '';
  const version = values(dse, 'vendorVersion')[0] ?? 'unknown';
  if (values(dse, 'supportedCapabilities').includes('1.2.840.113556.1.4.800')) {
    return { flavour: 'active-directory', product: 'Active Directory', version: `forest functional level ${values(dse, 'forestFunctionality')[0] ?? '?'}` };
  }
  if (/389/.test(vendor)) return { flavour: '389-ds', product: '389 Directory Server', version };
  if ([...values(dse, 'structuralObjectClass'), ...values(dse, 'objectClass')].some((c) => /OpenLDAProotDSE/i.test(c))) {
    return { flavour: 'openldap', product: 'OpenLDAP', version };
  }
  return { flavour: 'ldap', product: vendor || 'LDAPv3 directory', version };
}

/**
 * Prove the broker's bind before anything runs: a real bind with the DN and the password it was
 * given, the server's own word that the connection is not anonymous (RFC 4532, where the server
 * answers it), the rootDSE, and the grant group and protected entry readable. Any failure is one
 * line of bad input, so a wrong password never turns into a run of inconclusive scenarios.
 */
async function verifyBroker(settings: LdapSettings, redact: (text: string) => string): Promise<RootDse> {
  const who = settings.saslMechanism ? `SASL ${settings.saslMechanism} bind${settings.saslMechanism === 'EXTERNAL' ? '' : ` as ${settings.bindDn}`}` : `bind as ${settings.bindDn}`;
  const unusable = (why: string): InputError => new InputError(redact(`external ldap target ${settings.url} is not usable: ${who}: ${why}`));
  let client: Client;
  try {
    client = openConnection(settings);
    await bindBroker(client, settings);
  } catch (error) {
    throw unusable(ldapErrorText(error));
  }
  try {
    const identity = await whoAmI(client);
    // The broker's writes would run as nobody: the directory took the bind as anonymous.
    if (identity === 'anonymous') throw unusable('the directory accepted the bind but treats the connection as anonymous (Who am I? answers nothing)');
    let dse: RootDse;
    try {
      const result = await client.search('', {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: ['vendorName', 'vendorVersion', 'supportedCapabilities', 'structuralObjectClass', 'objectClass', 'forestFunctionality'],
      });
      dse = rootDseOf(result.searchEntries[0]);
    } catch (error) {
      throw unusable(`reading the rootDSE: ${ldapErrorText(error)}`);
    }
    for (const [what, dn] of [['grantGroupDn', settings.grantGroupDn], ['resourceDn', settings.resourceDn]] as const) {
      try {
        await client.search(dn, { scope: 'base', attributes: ['1.1'] });
      } catch (error) {
        throw new InputError(redact(`external ldap target: ldap.${what} ${dn}: ${ldapErrorText(error)}`));
      }
    }
    return dse;
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

/** A TLS file named in the config must be readable before anything connects. */
function checkTlsFiles(tls: { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined } | undefined): void {
  for (const [key, path] of Object.entries(tls ?? {})) {
    if (!path) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch (error) {
      throw new InputError(`external ldap target: ldap.tls.${key} ${path} is not readable (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
}

export const ldapTargets: TargetProvisioning = {
  configSection: externalConfig,
  local: {
    requirements: { apt: ['slapd', 'ldap-utils'], services: { slapd: 'slapd' }, commands: [SLAPD, SLAPADD] },
    async start(options: ProvisionOptions): Promise<StartedTarget> {
      const layout = localLayout();
      const port = await freePort();
      const url = `ldap://127.0.0.1:${port}`;
      const password = randomBytes(18).toString('base64url');
      const root = options.workDir;
      const seeded = writeConfiguration(layout, root, password);
      for (const db of ['main', 'accesslog', 'unaudited']) mkdirSync(join(root, 'data', db), { recursive: true });
      for (const file of seeded.files) writeFileSync(file.path, file.content, { mode: 0o600 });
      // No client or server configuration from the system: only the files written above.
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: root, LDAPNOINIT: '1' };
      try {
        await run(SLAPADD, ['-q', '-f', seeded.conf, '-b', layout.baseDn, '-l', join(root, 'seed.ldif')], { env });
        if (layout.unauditedDn) await run(SLAPADD, ['-q', '-f', seeded.conf, '-b', layout.unauditedDn, '-l', join(root, 'unaudited.ldif')], { env });
      } catch (error) {
        const stderr = (error as { stderr?: string }).stderr ?? String(error);
        throw new Error(`slapadd could not seed the local directory: ${stderr.trim().split('\n').slice(-2).join(' | ')}`);
      }
      const settings = localSettings(layout, url, password);
      const server = await startLocalServer({
        name: 'slapd',
        command: SLAPD,
        // -d 0: stay in the foreground (the pid recorded is the server's) with no debug output.
        args: ['-f', seeded.conf, '-h', `${url}/`, '-d', '0'],
        env,
        workDir: root,
        projectRoot: options.projectRoot,
        runId: options.runId,
        ready: () => answers(settings),
      });
      const version = await slapdVersion();
      options.log(`ldap: OpenLDAP slapd ${version} on ${url} (pid ${server.pid}; dds, accesslog, refint)`);
      return {
        connection: buildConnection('local', settings, {
          product: 'OpenLDAP',
          version,
          mode: 'local slapd, own configuration in a temporary directory',
          overlays: 'dds (min TTL 1 s, reaped every 1 s), accesslog (writes, binds), refint (member)',
        }),
        pid: server.pid,
        stop: server.stop,
      };
    },
  },

  container: {
    async start(options: ProvisionOptions): Promise<StartedTarget> {
      const { GenericContainer, Wait } = await import('testcontainers');
      const layout = localLayout();
      const password = randomBytes(18).toString('base64url');
      const root = '/jitc';
      const seeded = writeConfiguration(layout, root, password);
      const script = [
        'set -e',
        `mkdir -p ${root}/data/main ${root}/data/accesslog ${root}/data/unaudited`,
        `slapadd -q -f ${seeded.conf} -b '${layout.baseDn}' -l ${root}/seed.ldif`,
        ...(layout.unauditedDn ? [`slapadd -q -f ${seeded.conf} -b '${layout.unauditedDn}' -l ${root}/unaudited.ldif`] : []),
        `exec slapd -f ${seeded.conf} -h ldap://0.0.0.0:389/ -d 0`,
      ].join('\n');
      const container = await new GenericContainer(CONTAINER_IMAGE)
        .withCopyContentToContainer(seeded.files.map((f) => ({ content: f.content, target: f.path })))
        .withEntrypoint(['/bin/sh', '-c', script])
        .withExposedPorts(389)
        .withWaitStrategy(Wait.forListeningPorts())
        .start();
      const url = `ldap://${container.getHost()}:${container.getMappedPort(389)}`;
      const settings = localSettings(layout, url, password);
      for (let i = 0; i < 50 && !(await answers(settings).catch(() => false)); i++) await new Promise((r) => setTimeout(r, 200));
      options.log(`ldap: OpenLDAP container ${CONTAINER_IMAGE} on ${url}`);
      return {
        connection: buildConnection('container', settings, { product: 'OpenLDAP', version: CONTAINER_IMAGE, mode: 'container', overlays: 'dds, accesslog, refint' }),
        stop: async () => {
          await container.stop();
        },
      };
    },
  },

  external: {
    /**
     * Only the config file names a directory for jitc: its grant group and protected entry are
     * nowhere else. LDAPURI alone does not count: the OpenLDAP tools' everyday variable, it is set
     * on machines that never meant jitc to write to that directory.
     */
    configured: (options) => Object.keys(options.config).length > 0,
    howToConfigure: 'name it in an ldap: section of the config file, with its grantGroupDn and resourceDn',
    async connect(options: ProvisionOptions): Promise<TargetConnection> {
      const cfg = parseSection(externalConfig, 'ldap', options);
      const url = cfg.url ?? process.env.LDAPURI;
      const bindDn = cfg.bindDn ?? process.env.LDAPBINDDN;
      const baseDn = cfg.baseDn ?? process.env.LDAPBASE;
      const password = process.env[cfg.passwordEnv];
      if (!url) throw new InputError('external ldap target: set ldap.url in the config file (or LDAPURI)');
      if (!/^ldaps?:\/\//.test(url)) throw new InputError(`external ldap target: ${url} is not an ldap:// or ldaps:// URL`);
      if (!bindDn && cfg.saslMechanism !== 'EXTERNAL') throw new InputError('external ldap target: set ldap.bindDn in the config file (or LDAPBINDDN)');
      if (!baseDn) throw new InputError('external ldap target: set ldap.baseDn in the config file (or LDAPBASE)');
      if (!password && cfg.saslMechanism !== 'EXTERNAL') throw new InputError(`external ldap target: set ${cfg.passwordEnv} to the bind password of ${bindDn}`);
      checkTlsFiles(cfg.tls);

      const base: LdapSettings = settingsSchema.parse({
        url,
        bindDn: bindDn ?? 'sasl:EXTERNAL',
        password: password ?? '',
        saslMechanism: cfg.saslMechanism ?? '',
        startTls: String(cfg.startTls),
        tlsCaFile: cfg.tls?.caFile ?? '',
        tlsCertFile: cfg.tls?.certFile ?? '',
        tlsKeyFile: cfg.tls?.keyFile ?? '',
        timeoutMs: String(cfg.timeoutMs),
        flavour: 'ldap',
        baseDn,
        grantGroupDn: cfg.grantGroupDn,
        resourceDn: cfg.resourceDn,
        resourceAttribute: cfg.resourceAttribute,
        accountsDn: cfg.accountsDn ?? baseDn,
        groupsDn: cfg.groupsDn ?? baseDn,
        dnGrantedDn: cfg.dnGrantedDn ?? '',
        unauditedDn: '',
        accessLogDn: cfg.accessLogDn ?? '',
        emptyMember: '',
        groupObjectClass: 'groupOfNames',
        accountObjectClasses: 'applicationProcess,simpleSecurityObject',
        passwordAttribute: 'userPassword',
      });
      // The password is a secret from the moment it is read: no message may carry it.
      const secrets = new SecretRegistry();
      if (password) secrets.add(password);
      const dse = await verifyBroker(base, (text) => secrets.redact(text));
      const ad = dse.flavour === 'active-directory';
      const settings: LdapSettings = {
        ...base,
        flavour: dse.flavour,
        emptyMember: cfg.emptyMember ?? (ad ? '' : `cn=nobody,${baseDn}`),
        groupObjectClass: cfg.groupObjectClass ?? (ad ? 'group' : 'groupOfNames'),
        accountObjectClasses: (cfg.accountObjectClasses ?? (ad ? ['user'] : ['applicationProcess', 'simpleSecurityObject'])).join(','),
        passwordAttribute: cfg.passwordAttribute ?? (ad ? 'unicodePwd' : 'userPassword'),
      };
      return buildConnection('external', settings, { product: dse.product, version: dse.version, mode: 'external' });
    },
  },
};
