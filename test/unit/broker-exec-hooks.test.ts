/**
 * The exec hook contract, against real child processes: a hook sees only the allowlisted
 * environment (never jitc's own VAULT_TOKEN unless the scenario names it); a timeout, a non-zero
 * exit, a non-JSON or out-of-contract answer is a HookFailure that describes what was wrong
 * without quoting what the hook printed; a hook runs in the scenario file's directory, where a
 * relative command is looked for, and one that does not exist is refused at load.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, test } from 'vitest';
import { execHooks, runCommand } from '../../adapters/broker/exec-hooks.ts';
import { loadScenarioFile } from '../../scenarios/load.ts';
import { hookEnvironment, termVariable } from '../../adapters/broker/hook-env.ts';
import { HookFailure } from '../../adapters/broker/hooks.ts';
import { answerJsonSchema } from '../../adapters/broker/answers.ts';
import { HOOK_REQUEST, hookScripts } from '../support/hook-scripts.ts';

const scripts = hookScripts();
const { dir, script } = scripts;
afterAll(() => scripts.remove());
const request = HOOK_REQUEST;

const never = new AbortController().signal;
// jitc's own admin credential, as the process holds it: made here, so no token-shaped text sits in the file.
const SECRET = randomBytes(18).toString('base64url');
const own: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: '/home/x', VAULT_TOKEN: SECRET, AWS_SECRET_ACCESS_KEY: SECRET, MY_BROKER_URL: 'https://access.example' };

describe('the environment a hook runs with', () => {
  test('only the basics, the task and what the scenario names: never jitc own secrets', () => {
    const env = hookEnvironment('request', request, undefined, { passEnv: ['MY_BROKER_URL'], target: {}, own });
    expect(env.VAULT_TOKEN).toBeUndefined();
    expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(Object.values(env)).not.toContain(SECRET);
    expect(env).toMatchObject({ PATH: process.env.PATH, HOME: '/home/x', MY_BROKER_URL: 'https://access.example', JITC_HOOK: 'request', JITC_TASK_ID: 'run-1/scenario', JITC_WINDOW_SECONDS: '30' });
    expect(env[termVariable('vault.policy')]).toBe('jitc-run-1-scenario-read');
    expect(JSON.parse(env.JITC_SCOPE!)).toEqual(['read the task secret']);
  });

  test('a variable the scenario names is handed on, and one it names that is not set is a clear failure', () => {
    expect(hookEnvironment('request', request, undefined, { passEnv: ['VAULT_TOKEN'], target: {}, own }).VAULT_TOKEN).toBe(SECRET);
    expect(() => hookEnvironment('request', request, undefined, { passEnv: ['NOT_SET_ANYWHERE'], target: {}, own })).toThrow(/passEnv names NOT_SET_ANYWHERE, which is not set/);
  });

  test('nothing handed on can shadow the task variables', () => {
    const env = hookEnvironment('end', request, { requestId: 'r-1', credentialId: 'acc-1' }, { passEnv: [], target: { JITC_TASK_ID: 'forged' }, own });
    expect(env.JITC_TASK_ID).toBe('run-1/scenario');
    expect(env).toMatchObject({ JITC_REQUEST_ID: 'r-1', JITC_CREDENTIAL_ID: 'acc-1' });
  });

  test('a real hook process sees exactly that environment', async () => {
    const dump = script('dump-env.sh', 'env');
    const out = await runCommand('status', [dump], { env: hookEnvironment('status', request, undefined, { passEnv: [], target: {}, own }), stdin: '', timeoutMs: 5000, signal: never, cwd: dir });
    expect(out).not.toContain(SECRET);
    expect(out).toContain('JITC_HOOK=status');
  });
});

describe('a hook that does not answer as the contract says is a failure that quotes nothing', () => {
  const hooks = (argv: string[], timeoutSeconds = 5) => execHooks({ request: argv, end: argv, timeoutSeconds }, { passEnv: [], target: {}, own }, never, dir);
  const leaked = 'sup3r-secret-nobody-registered';

  test('a non-zero exit names the code, and its stderr is counted, not kept', async () => {
    const failing = script('exit3.sh', `echo '{"token":"${leaked}"}'; echo "${leaked}" >&2; exit 3`);
    const error = await hooks([failing]).request(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HookFailure);
    expect(String(error)).toMatch(/exited with code 3 after \d+ ms; its \d+ bytes of stderr are not recorded/);
    expect(String(error)).not.toContain(leaked);
  });

  test('a timeout kills the hook and everything it started', async () => {
    const slow = script('slow.sh', `sleep 30 & sleep 30; echo '{}'`);
    const started = Date.now();
    const error = await hooks([slow], 1).request(request).catch((e: unknown) => e);
    expect(String(error)).toMatch(/timed out after 1 s and was killed/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('text that is not JSON, or JSON outside the contract, is refused without quoting it', async () => {
    const prose = script('prose.sh', `echo "here is your token ${leaked}"`);
    const notJson = await hooks([prose]).request(request).catch((e: unknown) => e);
    expect(String(notJson)).toMatch(/answered something that is not JSON \(\d+ bytes\)/);
    expect(String(notJson)).not.toContain(leaked);
    const wrong = script('wrong.sh', `echo '{"requestId":"r","approver":null,"approvedAt":null,"expiresAt":null,"credential":{"type":"vault-token","token":"${leaked}"}}'`);
    const outside = await hooks([wrong]).request(request).catch((e: unknown) => e);
    expect(String(outside)).toMatch(/answered outside the contract: credential.accessor: expected string/);
    expect(String(outside)).not.toContain(leaked);
  });

  test('more than 64 KiB is not an answer', async () => {
    const flood = script('flood.sh', 'head -c 200000 /dev/zero | tr "\\0" a');
    expect(String(await hooks([flood]).request(request).catch((e: unknown) => e))).toMatch(/printed more than 64 KiB/);
  });

  test('a conformant answer is parsed, and the request arrives on stdin as JSON', async () => {
    const echo = script('echo.sh', `task=$(cat | sed -n 's/.*"taskId":"\\([^"]*\\)".*/\\1/p'); printf '{"requestId":"%s","approver":"bot","approvedAt":"2026-12-01T10:00:00Z","expiresAt":null}' "$task"`);
    const answer = await hooks([echo]).request(request);
    expect(answer).toEqual({ requestId: 'run-1/scenario', approver: 'bot', approvedAt: '2026-12-01T10:00:00Z', expiresAt: null });
  });
});

describe('a scenario naming hooks: commands are found from its own directory', () => {
  /** A broker scenario file in its own directory, naming `command` as its request hook. */
  function scenarioFile(command: string): string {
    const home = mkdtempSync(join(dir, 'scenario-'));
    writeFileSync(join(home, 'broker.sh'), '#!/bin/sh\npwd\n', { mode: 0o755 });
    const file = join(home, 'brokered.yaml');
    writeFileSync(
      file,
      stringify({
        id: 'brokered',
        title: 'A brokered token',
        proves: 'a relative hook command is the scenario directory one',
        adapter: 'vault',
        severity: 'high',
        grant: { adapter: 'broker', source: 'exec', params: { credential: 'vault-token', request: [command, 'request'], end: ['true'] } },
        use: { point: 'kv-secret' },
        task: { windowSeconds: 30, needs: ['read the task secret'] },
        end: { mode: 'revoke' },
        reuse: { deadlineSeconds: 3 },
      }),
    );
    return file;
  }

  test('a relative command next to the scenario file loads, whatever directory jitc runs in, and runs there', async () => {
    const file = scenarioFile('./broker.sh');
    const scenario = await loadScenarioFile(file);
    expect(scenario.dir).toBe(dirname(file));
    expect(process.cwd()).not.toBe(scenario.dir);
    expect((await runCommand('status', ['./broker.sh'], { env: { PATH: process.env.PATH ?? '' }, stdin: '', timeoutMs: 5000, signal: never, cwd: scenario.dir })).trim()).toBe(realpathSync(scenario.dir));
  });

  test('a command that does not exist is refused, naming the field and where commands are looked for', async () => {
    await expect(loadScenarioFile(scenarioFile('./no/such/broker'))).rejects.toThrow(/brokered\.yaml: grant\.params\.request\.0: command not found or not executable: \.\/no\/such\/broker \(a path is taken from the scenario file's directory/);
  });

  test('a command on PATH is found', async () => {
    await expect(loadScenarioFile(scenarioFile('sh'))).resolves.toMatchObject({ id: 'brokered' });
  });
});

test('the published JSON Schema holds every answer', () => {
  const schema = answerJsonSchema() as { $defs: Record<string, { required?: string[] }> };
  expect(Object.keys(schema.$defs)).toEqual(['request', 'end', 'renew', 'status']);
  expect(schema.$defs.request?.required).toEqual(expect.arrayContaining(['requestId', 'approver', 'approvedAt', 'expiresAt']));
});
