/**
 * Reaching a Keycloak.
 * - `local`: Keycloak 26.7.3 from Maven Central (the `keycloak-quarkus-dist` zip, its SHA-256
 *   pinned here and its published SHA-1 compared), unpacked once under `.targets/` and built there
 *   once (`kc.sh build`: dev-file database, health, no features the scenarios do not use). Each
 *   start runs that prebuilt copy (`start --optimized`) as a plain `java` process — so the recorded
 *   pid is the server's own — from a home of its own in the work directory (links to the install,
 *   a fresh `data/` with a new database), on 127.0.0.1 and free ports, with a bootstrap admin
 *   whose name and password are new for every start. Ready once the master realm answers.
 * - `external`: any Keycloak, from the config file's `idp:` section and the environment: its base
 *   URL (KEYCLOAK_URL) and an admin credential — a user of the admin realm or a service-account
 *   client allowed to create and delete realms — from environment variables the section names.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseSection } from '../config-section.ts';
import { type ProvisionOptions, type StartedTarget, type TargetConnection, type TargetProvisioning } from '../contract.ts';
import { downloadedDir, onPath } from '../install.ts';
import { freePort, startLocalServer } from '../local-process.ts';
import { envName } from '../param-fields.ts';
import { AdminApi, IdpAnswerError, type AdminCredential } from './client.ts';
import { InputError } from '../../scenarios/input.ts';

export const KEYCLOAK_VERSION = '26.7.3';
const KEYCLOAK_DIR = `keycloak-${KEYCLOAK_VERSION}`;
const KEYCLOAK_URL = `https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/${KEYCLOAK_VERSION}/keycloak-quarkus-dist-${KEYCLOAK_VERSION}.zip`;
/** Measured on the archive whose SHA-1 matched Maven Central's own `.sha1`. */
const KEYCLOAK_SHA256 = '27a6535553c3cdcd083872ba40629efafb3475e3b758e0c6f691395561dd0f1f';
const JAVA_HINT = 'Keycloak needs Java 17 or later: Debian `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME';

/**
 * Options fixed at build time: each start then skips Quarkus's augmentation (≈ 50 s on 2 cores).
 * Features the scenarios never touch are left out, which trims the start.
 */
const BUILD_OPTIONS = ['--db=dev-file', '--health-enabled=true', '--features-disabled=account,organization,device-flow,par'];

/** The JVM as kc.sh would start it, with a heap and compiler sized for a short-lived test server on two cores. */
function javaArgs(home: string): string[] {
  return [
    '-XX:MetaspaceSize=96M',
    '-XX:MaxMetaspaceSize=256m',
    '-Xms64m',
    '-Xmx512m',
    // A server that lives for one run: C1 alone reaches a ready server sooner, and the serial collector spares a core.
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Dfile.encoding=UTF-8',
    '-Djava.security.egd=file:/dev/urandom',
    '--add-opens=java.base/java.util=ALL-UNNAMED',
    '--add-opens=java.base/java.util.concurrent=ALL-UNNAMED',
    '--add-opens=java.base/java.security=ALL-UNNAMED',
    '--add-opens=java.base/java.lang=ALL-UNNAMED',
    '--enable-native-access=ALL-UNNAMED',
    '-Duser.language=en',
    '-Duser.country=US',
    `-Dkc.home.dir=${home}`,
    `-Djboss.server.config.dir=${join(home, 'conf')}`,
    '-Djava.util.logging.manager=org.jboss.logmanager.LogManager',
    '-Dpicocli.disable.closures=true',
    '-Djava.util.concurrent.ForkJoinPool.common.threadFactory=io.quarkus.bootstrap.forkjoin.QuarkusForkJoinWorkerThreadFactory',
    '-cp',
    join(home, 'lib', 'quarkus-run.jar'),
    'io.quarkus.bootstrap.runner.QuarkusEntryPoint',
  ];
}

/** The machine's Java, as kc.sh finds it: JAVA_HOME first, then PATH. */
export function findJava(): string {
  const fromHome = process.env.JAVA_HOME ? onPath(join(process.env.JAVA_HOME, 'bin', 'java')) : undefined;
  const java = fromHome ?? onPath('java');
  if (!java) throw new InputError(`the local idp target cannot start: java was not found (${JAVA_HINT})`);
  return java;
}

/**
 * A home of the server's own: the installation's read-only parts linked in, `data/` (database,
 * transaction logs, temp files) new. Keycloak derives its data directory from its home, so two
 * servers started from one installation never share a database.
 */
function ownHome(install: string, workDir: string): string {
  const home = join(workDir, 'keycloak');
  mkdirSync(join(home, 'data'), { recursive: true });
  for (const part of ['bin', 'conf', 'lib', 'providers', 'themes']) symlinkSync(join(install, part), join(home, part));
  return home;
}

/**
 * Ready once this run's own admin logs in to the master realm: the realm's page alone answered
 * before the token endpoint did (a run's first admin login was once refused with a 404 on a
 * server that had passed that check), and only the server this run started knows its admin.
 */
async function adminLogsIn(address: string, username: string, password: string): Promise<boolean> {
  await new AdminApi(address, 'master', { kind: 'password', username, password }).login();
  return true;
}

function connection(mode: TargetConnection['mode'], address: string, settings: Record<string, string>, secretSettings: string[], facts: Record<string, string>): TargetConnection {
  return { adapter: 'idp', mode, address, settings, secretSettings, facts };
}

const externalConfig = z
  .strictObject({
    /** Where Keycloak answers (`https://sso.example.com`, the part before /realms/…); default: $KEYCLOAK_URL. */
    url: z.url().optional(),
    /** The realm the admin credential belongs to. */
    adminRealm: z.string().min(1).default('master'),
    /** Environment variables holding an admin user's name and password … */
    usernameEnv: envName.default('KEYCLOAK_ADMIN'),
    passwordEnv: envName.default('KEYCLOAK_ADMIN_PASSWORD'),
    /** … or a service-account client's id and secret (used when both are set). */
    clientIdEnv: envName.default('KEYCLOAK_CLIENT_ID'),
    clientSecretEnv: envName.default('KEYCLOAK_CLIENT_SECRET'),
  })
  .default({ adminRealm: 'master', usernameEnv: 'KEYCLOAK_ADMIN', passwordEnv: 'KEYCLOAK_ADMIN_PASSWORD', clientIdEnv: 'KEYCLOAK_CLIENT_ID', clientSecretEnv: 'KEYCLOAK_CLIENT_SECRET' });

export const idpTargets: TargetProvisioning = {
  configSection: externalConfig,
  local: {
    requirements: {
      download: [
        {
          url: KEYCLOAK_URL,
          sha256: KEYCLOAK_SHA256,
          sha1Url: `${KEYCLOAK_URL}.sha1`,
          into: KEYCLOAK_DIR,
          needs: [{ program: 'java', hint: JAVA_HINT }],
          then: { command: 'bin/kc.sh', args: ['build', ...BUILD_OPTIONS], describe: `building Keycloak ${KEYCLOAK_VERSION} once (kc.sh build, about a minute on two cores)` },
        },
      ],
      commands: [],
    },
    async start(options: ProvisionOptions): Promise<StartedTarget> {
      const java = findJava();
      const home = ownHome(downloadedDir(options.projectRoot, KEYCLOAK_DIR), options.workDir);
      const [port, managementPort] = [await freePort(), await freePort()];
      const address = `http://127.0.0.1:${port}`;
      const adminUser = `jitc-admin-${randomBytes(4).toString('hex')}`;
      const adminPassword = randomBytes(18).toString('base64url');
      const began = Date.now();
      const server = await startLocalServer({
        name: 'keycloak',
        command: java,
        args: [
          ...javaArgs(home),
          'start',
          '--optimized',
          '--http-enabled=true',
          '--http-host=127.0.0.1',
          `--http-port=${port}`,
          '--http-management-host=127.0.0.1',
          `--http-management-port=${managementPort}`,
          '--hostname-strict=false',
          // Clustering is a runtime choice: a local cache keeps JGroups from listening on every interface.
          '--cache=local',
          '--log-level=warn',
        ],
        env: { PATH: process.env.PATH, HOME: options.workDir, KC_BOOTSTRAP_ADMIN_USERNAME: adminUser, KC_BOOTSTRAP_ADMIN_PASSWORD: adminPassword },
        workDir: options.workDir,
        projectRoot: options.projectRoot,
        runId: options.runId,
        ready: () => adminLogsIn(address, adminUser, adminPassword),
        readyTimeoutMs: 180_000,
      });
      options.log(`idp: Keycloak ${KEYCLOAK_VERSION} on ${address} (pid ${server.pid}), ready in ${((Date.now() - began) / 1000).toFixed(1)} s`);
      return {
        connection: connection('local', address, { adminRealm: 'master', adminUser, adminPassword }, ['adminPassword'], { product: 'Keycloak', version: KEYCLOAK_VERSION, mode: 'local' }),
        pid: server.pid,
        stop: server.stop,
      };
    },
  },

  external: {
    configured: (options) => Object.keys(options.config).length > 0 || Boolean(process.env.KEYCLOAK_URL),
    howToConfigure: 'set KEYCLOAK_URL, or idp.url in the config file',
    async connect(options: ProvisionOptions): Promise<TargetConnection> {
      const cfg = parseSection(externalConfig, 'idp', options);
      const address = (cfg.url ?? process.env.KEYCLOAK_URL ?? '').replace(/\/+$/, '');
      if (!address) throw new InputError('external idp target: set KEYCLOAK_URL, or idp.url in the config file');
      const clientId = process.env[cfg.clientIdEnv];
      const clientSecret = process.env[cfg.clientSecretEnv];
      const username = process.env[cfg.usernameEnv];
      const password = process.env[cfg.passwordEnv];
      let credential: AdminCredential;
      let settings: Record<string, string>;
      let named: string;
      if (clientId && clientSecret) {
        credential = { kind: 'client', clientId, secret: clientSecret };
        settings = { adminRealm: cfg.adminRealm, adminClientId: clientId, adminClientSecret: clientSecret };
        named = `the client in ${cfg.clientIdEnv}/${cfg.clientSecretEnv}`;
      } else if (username && password) {
        credential = { kind: 'password', username, password };
        settings = { adminRealm: cfg.adminRealm, adminUser: username, adminPassword: password };
        named = `the user in ${cfg.usernameEnv}/${cfg.passwordEnv}`;
      } else {
        throw new InputError(`external idp target ${address}: set ${cfg.usernameEnv} and ${cfg.passwordEnv} (an admin of realm ${cfg.adminRealm}), or ${cfg.clientIdEnv} and ${cfg.clientSecretEnv} (a service-account client that may create realms)`);
      }
      try {
        await new AdminApi(address, cfg.adminRealm, credential).login();
      } catch (error) {
        const why = error instanceof IdpAnswerError ? `refused: HTTP ${error.status}${error.error ? ` ${error.error}` : ''}` : `no answer: ${(error as Error).message}`;
        throw new InputError(`external idp target ${address}: the admin login of ${named} to realm ${cfg.adminRealm} was ${why}`);
      }
      return connection('external', address, settings, ['adminPassword', 'adminClientSecret'], { product: 'Keycloak', version: 'unknown', mode: 'external' });
    },
  },
};
