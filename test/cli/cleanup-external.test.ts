/**
 * `jitc cleanup --target external` sweeps the external targets the user named and no others. An
 * operator who runs Vault and a directory externally, and never AWS, gets both swept and one line
 * for each adapter passed over, while the account the environment does not name is not touched. A
 * target that is named but refuses jitc (a token Vault does not accept, a directory that does not
 * answer) is one line of bad input and exit 2, before anything is removed anywhere; naming nothing
 * at all, or asking with --suite for an adapter nobody named, is the same. The broker, which has no
 * target of its own, is never reported missing.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateGroupCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import type { AwsClient } from '../../adapters/aws/client.ts';
import type { LdapClient } from '../../adapters/ldap/client.ts';
import { freePort } from '../../adapters/local-process.ts';
import { getAdapter } from '../../adapters/registry.ts';
import type { VaultClient } from '../../adapters/vault/client.ts';
import { expectRefused, jitcAsync, type CliResult } from '../support/cli.ts';
import { startOwnTargets, type OwnTargets } from '../support/own-targets.ts';
import { leftoversOf } from '../support/residue.ts';
import { testRunId } from '../support/run-id.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-cleanup-external-'));

/** Every variable an adapter reads to name its external target, unset: only what a test gives names one. */
const NOTHING_NAMED: NodeJS.ProcessEnv = { VAULT_ADDR: '', BAO_ADDR: '', VAULT_TOKEN: '', BAO_TOKEN: '', AWS_REGION: '', AWS_DEFAULT_REGION: '', PGHOST: '', KEYCLOAK_URL: '' };

let own: OwnTargets;
/** Vault named by VAULT_ADDR and VAULT_TOKEN, the directory by the config file below; AWS by neither. */
let env: NodeJS.ProcessEnv;
/** The config file of the shared targets with its `ldap:` section only. */
let ldapOnly: string;

beforeAll(async () => {
  own = await startOwnTargets(scratch);
  env = { ...NOTHING_NAMED, ...own.env };
  const sections = parse(readFileSync(own.configFile, 'utf8')) as Record<string, unknown>;
  ldapOnly = join(scratch, 'ldap-only.yaml');
  writeFileSync(ldapOnly, stringify({ ldap: sections.ldap }));
}, 120_000);

afterAll(async () => {
  await own?.stop();
});

/** One object of the run on each target, named as the run would name it, for a sweep to find. */
async function plant(runId: string): Promise<void> {
  const name = `jitc-${runId}-planted`;
  const vault = await getAdapter('vault');
  const v = (await vault.connect(own.connections.vault!)) as VaultClient;
  await v.api.call('PUT', `sys/policies/acl/${name}`, { policy: `path "secret/data/jitc/${name}" { capabilities = ["read"] }` });
  await vault.disconnect?.(v);

  const ldap = await getAdapter('ldap');
  const l = (await ldap.connect(own.connections.ldap!)) as LdapClient;
  try {
    await l.admin.use((c) => c.add(`cn=${name}.entry,${l.layout.accountsDn}`, { objectClass: ['applicationProcess'], cn: `${name}.entry` }));
  } finally {
    await ldap.disconnect?.(l);
  }

  const aws = await getAdapter('aws');
  const a = (await aws.connect(own.connections.aws!)) as AwsClient;
  try {
    await a.iam.send(new CreateGroupCommand({ GroupName: name }));
  } finally {
    await aws.disconnect?.(a);
  }
}

const cleanup = (runId: string, args: string[], withEnv: NodeJS.ProcessEnv): Promise<CliResult> => jitcAsync(['cleanup', '--run', runId, '--target', 'external', ...args], withEnv).done;

/** What `cleanup` said it removed from one target. */
function removedFrom(result: CliResult, adapter: string, address: string): string[] {
  const heading = `removed from ${adapter} at ${address}: `;
  return result.stdout.split('\n').filter((l) => l.startsWith(heading)).map((l) => l.slice(heading.length));
}

describe('jitc cleanup --target external without --suite', () => {
  test('sweeps the Vault and the directory the user named, passes over AWS, PostgreSQL and SSH with one line each, and leaves the unnamed account alone', async () => {
    const runId = testRunId();
    await plant(runId);
    const before = await leftoversOf(own.connections, runId);
    for (const [adapter, items] of Object.entries(before)) expect(items.length, `${adapter} holds the planted object`).toBeGreaterThan(0);

    const sweep = await cleanup(runId, ['--config', ldapOnly], env);
    expect(sweep.code, sweep.stdout + sweep.stderr).toBe(0);
    expect(sweep.stderr.trim().split('\n').sort()).toEqual([
      'aws: not swept: no external target configured (set AWS_REGION or AWS_DEFAULT_REGION, or aws.region in the config file)',
      'idp: not swept: no external target configured (set KEYCLOAK_URL, or idp.url in the config file)',
      'postgres: not swept: no external target configured (set PGHOST, or postgres.host in the config file)',
      'ssh: not swept: no external target configured (name it in an ssh: section of the config file, with its host, user and knownHosts)',
    ]);
    expect(sweep.stdout).not.toMatch(/could not/);
    const addresses: Record<string, string> = { vault: own.vault.address, ldap: own.ldap.connection.address };
    for (const adapter of ['vault', 'ldap']) {
      const removed = removedFrom(sweep, adapter, addresses[adapter]!);
      for (const item of before[adapter]!) expect(removed, `${adapter}: ${sweep.stdout}`).toContain(item);
    }
    expect(sweep.stdout).not.toMatch(/^removed from aws/m);
    expect(await leftoversOf(own.connections, runId)).toEqual({ vault: [], aws: before.aws, ldap: [] });

    // Named, the account is swept in turn: it was passed over, not unreachable.
    const aws = await cleanup(runId, ['--suite', 'aws', '--config', own.configFile], own.env);
    expect(aws.code, aws.stdout + aws.stderr).toBe(0);
    expect(removedFrom(aws, 'aws', own.aws.connection.address)).toEqual(before.aws);
    expect(await leftoversOf(own.connections, runId)).toEqual({ vault: [], aws: [], ldap: [] });
  }, 120_000);

  test('a named Vault that refuses its token is one line and exit 2, and nothing is removed from the directory either', async () => {
    const runId = testRunId();
    await plant(runId);
    const before = await leftoversOf(own.connections, runId);
    const refused = randomBytes(18).toString('base64url');
    const sweep = await cleanup(runId, ['--config', ldapOnly], { ...env, VAULT_TOKEN: refused });
    expectRefused(sweep, /^jitc: external vault target http:\/\/127\.0\.0\.1:\d+: Vault does not accept the token in VAULT_TOKEN \(.+\); set VAULT_TOKEN to a valid token$/m);
    expect(sweep.stdout).toBe('');
    expect(sweep.stdout + sweep.stderr).not.toContain(refused);
    expect(await leftoversOf(own.connections, runId)).toEqual(before);
    await cleanup(runId, ['--suite', 'vault,aws,ldap', '--config', own.configFile], own.env);
  }, 60_000);

  test('a named directory that does not answer is one line and exit 2, and nothing is removed from the Vault either', async () => {
    const runId = testRunId();
    await plant(runId);
    const before = await leftoversOf(own.connections, runId);
    const sections = parse(readFileSync(ldapOnly, 'utf8')) as { ldap: Record<string, unknown> };
    const silent = join(scratch, 'silent-ldap.yaml');
    writeFileSync(silent, stringify({ ldap: { ...sections.ldap, url: `ldap://127.0.0.1:${await freePort()}` } }));
    const sweep = await cleanup(runId, ['--config', silent], env);
    expectRefused(sweep, /^jitc: external ldap target ldap:\/\/127\.0\.0\.1:\d+ is not usable: bind as .+$/m);
    expect(sweep.stdout).toBe('');
    expect(await leftoversOf(own.connections, runId)).toEqual(before);
    await cleanup(runId, ['--suite', 'vault,aws,ldap', '--config', own.configFile], own.env);
  }, 60_000);

  test('with nothing named at all, it says so in one line and exits 2', async () => {
    const runId = testRunId();
    expectRefused(await cleanup(runId, [], NOTHING_NAMED), /^jitc: --target external: no external target configured: no --config file given and the environment names none \(aws: set AWS_REGION.*; vault: set VAULT_ADDR or BAO_ADDR, or vault\.address in the config file\)$/m);
    const none = join(scratch, 'names-none.yaml');
    writeFileSync(none, stringify({ concurrency: 2 }));
    expectRefused(await cleanup(runId, ['--config', none], NOTHING_NAMED), /^jitc: --target external: no external target configured: neither \S*names-none\.yaml nor the environment names one \(/);
  }, 60_000);
});

describe('jitc cleanup --target external --suite', () => {
  test('an adapter asked for that nobody named is one line and exit 2, and the named ones are not swept', async () => {
    const runId = testRunId();
    await plant(runId);
    const before = await leftoversOf(own.connections, runId);
    const sweep = await cleanup(runId, ['--suite', 'vault,aws', '--config', ldapOnly], env);
    expectRefused(sweep, /^jitc: --target external: aws: no external target configured \(set AWS_REGION or AWS_DEFAULT_REGION, or aws\.region in the config file\)$/m);
    expect(sweep.stdout).toBe('');
    expect(await leftoversOf(own.connections, runId)).toEqual(before);
    await cleanup(runId, ['--suite', 'vault,aws,ldap', '--config', own.configFile], own.env);
  }, 60_000);

  test('the broker has no target of its own to name: asked for alone, it finds nothing and passes', async () => {
    const runId = testRunId();
    const sweep = await cleanup(runId, ['--suite', 'broker'], NOTHING_NAMED);
    expect(sweep.code, sweep.stdout + sweep.stderr).toBe(0);
    expect(sweep.stderr).toBe('');
    expect(sweep.stdout.trim()).toBe(`nothing left by run ${runId}`);
  }, 60_000);

  test('an adapter that does not exist is one line and exit 2', async () => {
    expectRefused(await cleanup(testRunId(), ['--suite', 'vault,nosuch'], env), /^jitc: --suite: unknown adapter "nosuch" \(known: .*vault\)$/m);
  }, 60_000);
});
