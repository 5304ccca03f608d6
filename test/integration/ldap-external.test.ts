/**
 * `jitc run --target external` against a real directory with a broken bind: a wrong password or
 * an unreachable URL is one line on stderr, exit 2, and nothing written — never a run of
 * inconclusive scenarios — and the password given never appears in what jitc prints.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StartedTarget } from '../../adapters/contract.ts';
import { freePort } from '../../adapters/local-process.ts';
import { newPassword } from '../../adapters/ldap/passwords.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { jitc } from '../support/cli.ts';
import { testRunId } from '../support/run-id.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

let target: StartedTarget | undefined;
const dir = mkdtempSync(join(tmpdir(), 'jitc-ldap-external-'));

beforeAll(async () => {
  [target] = await bringUp([await getAdapter('ldap')], { runId: testRunId(), projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
}, 60_000);

afterAll(async () => {
  await target?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function configFor(url: string): string {
  const s = target?.connection.settings ?? expect.unreachable('the local slapd did not start');
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    [
      'target: external',
      'ldap:',
      `  url: ${url}`,
      `  bindDn: ${s.bindDn}`,
      '  passwordEnv: JITC_TEST_EXTERNAL_LDAP_PW',
      `  baseDn: ${s.baseDn}`,
      `  grantGroupDn: ${s.grantGroupDn}`,
      `  resourceDn: ${s.resourceDn}`,
      '  timeoutMs: 2000',
      '',
    ].join('\n'),
  );
  return file;
}

describe('an external directory whose bind does not work', () => {
  test('a wrong password is one line naming the bind and the directory’s answer, exit 2, nothing written, the password not shown', () => {
    const url = target?.connection.settings.url ?? '';
    const out = join(dir, 'out-wrong-password');
    const wrong = newPassword();
    const r = jitc(['run', '--suite', 'ldap', '--config', configFor(url), '--out', out], { JITC_TEST_EXTERNAL_LDAP_PW: wrong });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/external ldap target ldap:\/\/127\.0\.0\.1:\d+ is not usable: bind as cn=admin,dc=jitc,dc=test: invalidCredentials \(49\)$/);
    expect(r.stdout + r.stderr).not.toContain(wrong);
    expect(r.stdout + r.stderr).not.toMatch(/inconclusive/i);
    expect(existsSync(out)).toBe(false);
  });

  test('an unreachable URL is one line, exit 2, nothing written', async () => {
    const out = join(dir, 'out-unreachable');
    const r = jitc(['run', '--suite', 'ldap', '--config', configFor(`ldap://127.0.0.1:${await freePort()}`), '--out', out], { JITC_TEST_EXTERNAL_LDAP_PW: newPassword() });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(/external ldap target ldap:\/\/127\.0\.0\.1:\d+ is not usable: bind as cn=admin,dc=jitc,dc=test: ECONNREFUSED/);
    expect(existsSync(out)).toBe(false);
  });
});
