/**
 * Targets that outlive a jitc run: one of each kind (an audited OpenBao, a moto_server, a slapd),
 * started by the test itself, and the environment plus config file with which `jitc run --target
 * external` and `jitc cleanup --target external` reach them — the way an operator points jitc at
 * a Vault, an AWS account and a directory it does not own. Whatever a killed or interrupted run
 * leaves on them stays there for the test to find.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { StartedTarget, TargetConnection } from '../../adapters/contract.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { startAuditedBao, type AuditedBao } from './audited-bao.ts';
import { testRunId } from './run-id.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

/** The variable the config file names for the directory's bind password (never in the file). */
const LDAP_PASSWORD_ENV = 'JITC_TEST_LDAP_PASSWORD';

export interface OwnTargets {
  vault: AuditedBao;
  aws: StartedTarget;
  ldap: StartedTarget;
  /** How the tests themselves reach each target, by adapter name (to list what a run left there). */
  connections: Record<string, TargetConnection>;
  /** What `--target external` reads from the environment: Vault address and token, AWS keys, LDAP password. */
  env: NodeJS.ProcessEnv;
  /** What it reads from `--config`: the AWS endpoint and region, the directory's URL, bind DN and layout. */
  configFile: string;
  stop(): Promise<void>;
}

export async function startOwnTargets(dir: string): Promise<OwnTargets> {
  const adapters = await Promise.all(['aws', 'ldap'].map((name) => getAdapter(name)));
  const [vault, [aws, ldap]] = await Promise.all([
    startAuditedBao(),
    bringUp(adapters, { runId: testRunId(), projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined }),
  ]);
  if (!aws || !ldap) throw new Error('the local aws and ldap targets did not start');
  const a = aws.connection.settings;
  const l = ldap.connection.settings;
  const configFile = join(dir, 'external-targets.yaml');
  writeFileSync(
    configFile,
    stringify({
      aws: { region: a.region, endpoint: a.endpoint },
      ldap: {
        url: l.url,
        bindDn: l.bindDn,
        passwordEnv: LDAP_PASSWORD_ENV,
        baseDn: l.baseDn,
        grantGroupDn: l.grantGroupDn,
        resourceDn: l.resourceDn,
        resourceAttribute: l.resourceAttribute,
        accountsDn: l.accountsDn,
        groupsDn: l.groupsDn,
        dnGrantedDn: l.dnGrantedDn,
        accessLogDn: l.accessLogDn,
      },
    }),
  );
  const env: NodeJS.ProcessEnv = {
    VAULT_ADDR: vault.address,
    VAULT_TOKEN: vault.rootToken,
    BAO_ADDR: '',
    BAO_TOKEN: '',
    // The SDK default credential chain reads these first; nothing else of the caller's may leak in.
    AWS_ACCESS_KEY_ID: a.accessKeyId,
    AWS_SECRET_ACCESS_KEY: a.secretAccessKey,
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: '',
    AWS_REGION: '',
    [LDAP_PASSWORD_ENV]: l.password,
  };
  const vaultConnection: TargetConnection = {
    adapter: 'vault',
    mode: 'external',
    address: vault.address,
    settings: { token: vault.rootToken },
    secretSettings: ['token'],
    facts: {},
  };
  return {
    vault,
    aws,
    ldap,
    connections: { vault: vaultConnection, aws: aws.connection, ldap: ldap.connection },
    env,
    configFile,
    async stop() {
      await Promise.allSettled([vault.stop(), aws.stop(), ldap.stop()]);
    },
  };
}
