/**
 * Bad input of every kind gets one line naming what is wrong and where, exit code 2, no stack
 * trace, and nothing started: no server process, no pid file, no output directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { jitc, JITC } from '../support/cli.ts';
import { serversStartedBy } from '../support/run-servers.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const dir = mkdtempSync(join(tmpdir(), 'jitc-bad-input-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};


const cases: [string, string[], RegExp][] = [
  ['an unknown flag', ['run', '--frobnicate'], /unknown option '--frobnicate'/],
  ['an unknown command', ['launch'], /unknown command 'launch'/],
  ['a target mode that does not exist', ['run', '--target', 'cloud'], /--target.*cloud.*(local|choices)/],
  ['a concurrency that is not a number', ['run', '--concurrency', 'many'], /--concurrency needs a whole number/],
  ['a concurrency of zero', ['run', '--concurrency', '0'], /--concurrency needs a whole number/],
  ['a concurrency above the bound the config file has too', ['run', '--concurrency', '1001'], /--concurrency needs a whole number from 1 to 1000, got "1001"/],
  ['a config concurrency above the same bound', ['run', '--config', file('conc1001.yaml', 'concurrency: 1001\n')], /conc1001\.yaml: concurrency: .*1000/],
  // Inline secrets are refused in the default local mode too, where the adapter sections are not even used.
  ['an inline Vault token in a config file, on a local run', ['run', '--config', file('vault-token.yaml', 'vault:\n  token: tok-inline-1\n')], /vault-token\.yaml: vault\.token: looks like a secret/],
  ['an inline LDAP password in a config file, on a local run', ['run', '--config', file('ldap-password.yaml', 'ldap:\n  password: pw-inline-1\n')], /ldap-password\.yaml: ldap\.password: looks like a secret/],
  ['an inline AWS secret key in a config file, on a local run', ['run', '--config', file('aws-secret.yaml', 'aws:\n  secretAccessKey: key-inline-1\n')], /aws-secret\.yaml: aws\.secretAccessKey: looks like a secret/],
  ['a secret_id deep in a config file', ['run', '--config', file('deep-secret.yaml', 'vault:\n  approle:\n    - role: x\n      secret_id: sid-inline-1\n')], /deep-secret\.yaml: vault\.approle\.0\.secret_id: looks like a secret/],
  ['a private key in a config file', ['run', '--config', file('private-key.yaml', 'privateKey: pk-inline-1\n')], /private-key\.yaml: privateKey: looks like a secret/],
  ['a token where the name of its variable belongs', ['run', '--config', file('token-env.yaml', 'vault:\n  tokenEnv: tok.inline-1\n')], /token-env\.yaml: vault\.tokenEnv: must be the name of an environment variable/],
  ['a typo in an adapter section, on a local run', ['run', '--config', file('typo.yaml', 'vault:\n  adress: http://127.0.0.1:8200\n')], /typo\.yaml: vault\.adress: unknown key "adress"/],
  ['an incomplete ldap section, on a local run', ['run', '--config', file('ldap-partial.yaml', 'ldap:\n  url: ldap://127.0.0.1:389\n')], /ldap-partial\.yaml: ldap\.grantGroupDn: required/],
  ['a scenario file larger than the input limit', ['run', '--scenario-file', file('huge.yaml', `id: huge\nparams:\n  items:\n${'    - 1\n'.repeat(400_000)}`)], /huge\.yaml: larger than 1048576 bytes \(1 MiB\), the limit for input files/],
  ['a scenario file of more YAML nodes than the limit', ['run', '--scenario-file', file('nodes.yaml', `id: nodes\nitems:\n${'- 1\n'.repeat(30_000)}`)], /nodes\.yaml: more than 20000 YAML nodes, the limit for input files/],
  ['a config file of more YAML aliases than the limit', ['run', '--config', file('aliases.yaml', `a: &a [x]\nb: [${Array.from({ length: 150 }, () => '*a').join(', ')}]\n`)], /aliases\.yaml: more than 100 YAML aliases/],
  ['a waiver file nested deeper than the limit', ['run', '--waivers', file('deep.yaml', `waivers: ${'['.repeat(100)}${']'.repeat(100)}\n`)], /deep\.yaml: \[ or \{ nested more than 64 deep/],
  ['a scenario file whose id --scenario does not select', ['run', '--scenario', 'zero-standing-privilege', '--scenario-file', join(PROJECT_ROOT, 'examples/non-conformant/vault-token-without-ttl.yaml')], /vault-token-without-ttl\.yaml: id: "example-token-without-ttl" is not selected by --scenario \(zero-standing-privilege\)/],
  ['a scenario id neither built in nor in the scenario files', ['run', '--scenario', 'nope', '--scenario-file', join(PROJECT_ROOT, 'examples/non-conformant/vault-token-without-ttl.yaml')], /is not selected by --scenario \(nope\)|--scenario: no scenario "nope"/],
  ['an unknown suite', ['run', '--suite', 'kerberos'], /--suite: unknown suite "kerberos"/],
  ['an unknown scenario', ['run', '--suite', 'vault', '--scenario', 'nope'], /--scenario: no scenario "nope"/],
  ['a config file that does not exist', ['run', '--config', join(dir, 'missing.yaml')], /missing\.yaml: cannot read \(ENOENT\)/],
  ['a config file that is not YAML', ['run', '--config', file('broken.yaml', 'target: [local\n')], /broken\.yaml: not valid YAML/],
  ['a config file with a bad target', ['run', '--config', file('target.yaml', 'target: cloud\n')], /target\.yaml: target: /],
  ['a config file with a bad concurrency', ['run', '--config', file('conc.yaml', 'concurrency: -3\n')], /conc\.yaml: concurrency: /],
  [
    'a waiver file without a justification',
    ['run', '--suite', 'vault', '--waivers', file('w.yaml', 'waivers:\n  - id: x\n    adapter: vault\n    scenario: token-ttl-expiry\n    acceptedBy: me\n    expires: 2030-01-01\n')],
    /w\.yaml: waivers\.0\.justification: /,
  ],
  [
    'a waiver file with a bad date',
    ['run', '--suite', 'vault', '--waivers', file('d.yaml', 'waivers:\n  - id: x\n    adapter: vault\n    scenario: s\n    justification: accepted for a good reason\n    acceptedBy: me\n    expires: tomorrow\n')],
    /d\.yaml: waivers\.0\.expires: expected a date as YYYY-MM-DD/,
  ],
  ['an external Vault without an address', ['run', '--suite', 'vault', '--target', 'external'], /external vault target: set VAULT_ADDR/],
  ['a cleanup run id that is not one', ['cleanup', '--run', '../../etc'], /--run: "\.\.\/\.\.\/etc" is not a run id/],
];

describe('bad input is one line and exit code 2', () => {
  test.each(cases)('%s', (_name, args, message) => {
    const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
    const env = { VAULT_ADDR: '', BAO_ADDR: '', VAULT_TOKEN: '', BAO_TOKEN: '' };
    const result = jitc(args[0] === 'run' ? [...args, '--out', out] : args, env);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^jitc: /);
    expect(lines[0]).toMatch(message);
    // A secret refused is never repeated back.
    expect(result.stderr).not.toMatch(/inline-1/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.pid).toBeGreaterThan(0);
    expect(serversStartedBy(result.pid)).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });

  test('an unreachable external Vault is one line and exit 2', () => {
    const result = jitc(['run', '--suite', 'vault', '--target', 'external', '--out', join(dir, 'unreachable')], {
      VAULT_ADDR: 'http://127.0.0.1:9',
      VAULT_TOKEN: 'not-a-real-token',
    });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/external vault target http:\/\/127\.0\.0\.1:9 is not usable: ECONNREFUSED/);
  });
});

describe('input files are capped while they are read, not by a stat() before', () => {
  const tooBig = `target: local\nsuites:\n${'  - vault\n'.repeat(200_000)}`;

  test('a config file streamed through a FIFO past 1 MiB is refused in one line, quickly', async () => {
    const fifo = join(dir, 'config.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // The writer streams far more than the limit: a reader without a limit would take it all.
    const writer = spawn('sh', ['-c', `while :; do printf '%s' "$0"; done > ${fifo}`, '  - vault\n'.repeat(9000)], { stdio: 'ignore' });
    const started = Date.now();
    const result = jitc(['run', '--config', fifo, '--out', join(dir, 'out-fifo')]);
    writer.kill('SIGKILL');
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim()).toMatch(/^jitc: .*config\.fifo: larger than 1048576 bytes \(1 MiB\), the limit for input files$/);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  test('a config file on /dev/stdin past 1 MiB is refused in one line; a small one is read', () => {
    const big = spawnSync(JITC, ['run', '--config', '/dev/stdin', '--out', join(dir, 'out-stdin'), '--history', join(dir, 'h.sqlite')], { input: tooBig, encoding: 'utf8' });
    expect(big.status, big.stderr).toBe(2);
    expect(big.stderr.trim()).toBe('jitc: /dev/stdin: larger than 1048576 bytes (1 MiB), the limit for input files');
    const small = spawnSync(JITC, ['run', '--config', '/dev/stdin', '--suite', 'nope', '--out', join(dir, 'out-stdin')], { input: 'concurrency: 2\n', encoding: 'utf8' });
    expect(small.stderr.trim()).toMatch(/^jitc: --suite: unknown suite "nope"/);
  });

  test('a 39 MB scenario file of 2.5 million list items is refused within seconds, not read whole', () => {
    const huge = file('huge-list.yaml', `id: huge\nitems:\n${'  - item-1234567\n'.repeat(2_500_000)}`);
    const started = Date.now();
    const result = jitc(['run', '--scenario-file', huge, '--out', join(dir, 'out-huge')]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/huge-list\.yaml: larger than 1048576 bytes/);
    // Most of this is the CLI's own start-up on a loaded machine; reading the whole file took 31 s.
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe('no run leaves anything in the temporary directory', () => {
  /** The TypeScript loader's compile cache (tsx-<uid>), shared by every start of the CLI: not the run's. */
  const entries = (tmp: string): string[] => readdirSync(tmp).filter((e) => !/^tsx-\d+$/.test(e)).sort();

  test('refused runs — bad config, an external target refused at connect — and a successful local run leave the private TMPDIR as it was', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'jitc-private-tmp-'));
    const env = { TMPDIR: tmp, VAULT_ADDR: 'http://127.0.0.1:9', VAULT_TOKEN: 'not-a-real-token', BAO_ADDR: '', BAO_TOKEN: '' };
    const before = entries(tmp);
    const refusedAtConnect = jitc(['run', '--suite', 'vault', '--target', 'external', '--out', join(dir, 'tmp-external')], env);
    expect(refusedAtConnect.code, refusedAtConnect.stderr).toBe(2);
    expect(refusedAtConnect.stderr).toMatch(/external vault target http:\/\/127\.0\.0\.1:9 is not usable/);
    expect(entries(tmp)).toEqual(before);
    const refusedConfig = jitc(['run', '--config', file('tmp-bad.yaml', 'vault:\n  token: tok-inline-1\n'), '--out', join(dir, 'tmp-bad')], env);
    expect(refusedConfig.code).toBe(2);
    expect(entries(tmp)).toEqual(before);
    const passed = jitc(['run', '--suite', 'vault', '--scenario', 'zero-standing-privilege', '--out', join(dir, 'tmp-pass')], env);
    expect(passed.code, passed.stdout + passed.stderr).toBe(0);
    expect(entries(tmp)).toEqual(before);
  }, 180_000);
});
