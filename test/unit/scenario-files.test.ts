/**
 * Scenario files are parsed once, at the edge: a bad one is refused with one InputError that names
 * the file and the field, and every built-in one (and every broken twin) loads.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { loadCatalogue } from '../../scenarios/catalogue.ts';
import { formatMs, parseDurationMs } from '../../scenarios/durations.ts';
import { BUILTIN_DIR, loadBuiltinScenarios, loadScenarioFile, toScenario } from '../../scenarios/load.ts';
import { loadTwins } from '../support/twins.ts';
import { InputError } from '../../scenarios/input.ts';

const dir = mkdtempSync(join(tmpdir(), 'jitc-unit-scenarios-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Raw = Record<string, unknown>;

function valid(): Raw {
  return {
    id: 'token-ttl-expiry',
    title: 'A JIT token dies at its TTL',
    proves: 'the token is denied once its TTL has passed',
    adapter: 'vault',
    mechanism: 'token',
    severity: 'critical',
    params: { ttlSeconds: 3 },
    task: { windowSeconds: 3, needs: ['read the task secret'] },
    end: { mode: 'expire', graceSeconds: 1 },
    reuse: { deadlineSeconds: 3 },
  };
}

let files = 0;
function write(raw: Raw | string): string {
  const file = join(dir, `scenario-${++files}.yaml`);
  writeFileSync(file, typeof raw === 'string' ? raw : stringify(raw));
  return file;
}

function edited(edit: (raw: Raw) => void): string {
  const raw = valid();
  edit(raw);
  return write(raw);
}

async function refusal(file: string): Promise<InputError> {
  const error = await loadScenarioFile(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `${file} must be refused`).toBeInstanceOf(InputError);
  const input = error as InputError;
  expect(input.message.startsWith(`${file}: `), `"${input.message}" names the file first`).toBe(true);
  expect(input.message).not.toContain('\n');
  return input;
}

describe('a valid scenario file', () => {
  test('loads into a typed scenario with defaults filled and its source recorded', async () => {
    const file = write(valid());
    const scenario = await loadScenarioFile(file);
    expect(scenario).toMatchObject({
      id: 'token-ttl-expiry',
      adapter: 'vault',
      pair: 'token',
      grant: { adapter: 'vault', name: 'token' },
      use: { adapter: 'vault', name: 'kv-secret' },
      task: { windowSeconds: 3, approver: 'jitc-change-approval', needs: ['read the task secret'] },
      end: { mode: 'expire', graceSeconds: 1 },
      reuse: { deadlineSeconds: 3 },
      source: file,
    });
    expect(scenario.grant.params).toMatchObject({ ttlSeconds: 3 });
  });

  test('durations may be written with units and become seconds', async () => {
    const scenario = await loadScenarioFile(
      edited((raw) => {
        raw.task = { windowSeconds: '2m', needs: ['read'] };
        raw.end = { mode: 'expire', graceSeconds: '500ms' };
        raw.reuse = { deadlineSeconds: '1.5s' };
        raw.params = { ttlSeconds: '90s' };
      }),
    );
    expect(scenario.task.windowSeconds).toBe(120);
    expect(scenario.end).toEqual({ mode: 'expire', graceSeconds: 0.5 });
    expect(scenario.reuse.deadlineSeconds).toBe(1.5);
    expect(scenario.grant.params).toMatchObject({ ttlSeconds: 90 });
  });

  test('the skew grace defaults to one second when the grant expires by itself', async () => {
    const scenario = await loadScenarioFile(edited((raw) => (raw.end = { mode: 'expire' })));
    expect(scenario.end).toEqual({ mode: 'expire', graceSeconds: 1 });
  });
});

describe('a bad scenario file names the file and the field', () => {
  test('a scenario file with a bad TTL names the file and the field', async () => {
    const error = await refusal(edited((raw) => (raw.params = { ttlSeconds: '3 parsecs' })));
    expect(error.message).toContain('params.ttlSeconds: "3 parsecs" is not a duration');
  });

  test('a bad approval window names task.windowSeconds', async () => {
    const error = await refusal(edited((raw) => (raw.task = { windowSeconds: 'soon', needs: ['read'] })));
    expect(error.message).toMatch(/: task\.windowSeconds: "soon" is not a duration/);
  });

  test('a zero approval window is refused', async () => {
    const error = await refusal(edited((raw) => (raw.task = { windowSeconds: 0, needs: ['read'] })));
    expect(error.message).toContain('task.windowSeconds: must be more than 0');
  });

  test('a negative deadline is refused', async () => {
    const error = await refusal(edited((raw) => (raw.reuse = { deadlineSeconds: -3 })));
    expect(error.message).toContain('reuse.deadlineSeconds:');
  });

  test('an unknown mechanism names the mechanism and lists the known native pairs', async () => {
    const error = await refusal(edited((raw) => (raw.mechanism = 'tokn')));
    expect(error.message).toMatch(/: mechanism: "tokn" is not a native pair of adapter vault \(known: .*token.*\)$/);
  });

  test.each(['valueOf', 'constructor', '__proto__', 'toString'])('a mechanism named like an inherited property ("%s") is an unknown mechanism, not a crash', async (name) => {
    const error = await refusal(edited((raw) => (raw.mechanism = name)));
    expect(error.message).toContain(`mechanism: "${name}" is not a native pair of adapter vault`);
  });

  test('a scenario may name its two halves apart instead of a native pair', async () => {
    const scenario = await loadScenarioFile(
      edited((raw) => {
        delete raw.mechanism;
        delete raw.params;
        raw.grant = { source: 'token', params: { ttlSeconds: 3 } };
        raw.use = { point: 'kv-secret' };
      }),
    );
    expect(scenario.pair).toBeUndefined();
    expect(scenario.grant).toMatchObject({ adapter: 'vault', name: 'token', params: { ttlSeconds: 3 } });
    expect(scenario.use).toMatchObject({ adapter: 'vault', name: 'kv-secret' });
  });

  test('a native pair and named halves together are refused', async () => {
    const error = await refusal(edited((raw) => (raw.use = { point: 'kv-secret' })));
    expect(error.message).toMatch(/: mechanism: name either a native pair \(mechanism, params\) or both halves \(grant, use\), not both$/);
  });

  test('a grant source the adapter lacks names grant.source and lists the known ones', async () => {
    const error = await refusal(
      edited((raw) => {
        delete raw.mechanism;
        delete raw.params;
        raw.grant = { source: 'tokn' };
        raw.use = { point: 'kv-secret' };
      }),
    );
    expect(error.message).toMatch(/: grant\.source: "tokn" is not a grant source of adapter vault \(known: .*token.*\)$/);
  });

  test('halves that do not fit are refused at load: a point of use that does not accept the credential the source issues', async () => {
    const error = await refusal(
      edited((raw) => {
        delete raw.mechanism;
        delete raw.params;
        raw.grant = { adapter: 'ldap', source: 'group-membership' };
        raw.use = { point: 'kv-secret' };
      }),
    );
    expect(error.message).toMatch(/: grant: ldap\/group-membership issues ldap-bind, which the point of use vault\/kv-secret does not accept \(it accepts vault-token\)$/);
  });

  test('a params key neither half of a native pair declares is refused under params', async () => {
    const error = await refusal(edited((raw) => (raw.params = { ttlSeconds: 3, ttlSecond: 3 })));
    expect(error.message).toMatch(/: params\.ttlSecond: unknown key "ttlSecond" \(a typo\?\)$/);
  });

  test('an unknown adapter names the adapter field', async () => {
    const error = await refusal(edited((raw) => (raw.adapter = 'vaultt')));
    expect(error.message).toMatch(/: adapter: unknown adapter "vaultt" \(known: .*vault.*\)$/);
  });

  test('a missing field is named', async () => {
    const error = await refusal(edited((raw) => delete raw.proves));
    expect(error.message).toMatch(/: proves: /);
  });

  test('a missing nested field is named by its path', async () => {
    const error = await refusal(edited((raw) => (raw.task = { windowSeconds: 3 })));
    expect(error.message).toMatch(/: task\.needs: /);
  });

  test('an unknown key is refused, not ignored', async () => {
    const error = await refusal(edited((raw) => (raw.ttl = 3)));
    expect(error.message).toContain('"ttl"');
  });

  test('an unknown key inside a section names the section and the key', async () => {
    const error = await refusal(edited((raw) => (raw.task = { windowSeconds: 3, windowSecs: 3, needs: ['read'] })));
    expect(error.message).toMatch(/: task\.windowSecs: unknown key "windowSecs"/);
  });

  // BUG: the Vault mechanisms' params schemas extend adapters/vault/fixtures.ts `fixtureParams`, a
  // z.object, which strips unknown keys: a misspelt optional parameter (here the renewal cap) is
  // silently dropped and the scenario runs without the setting it names.
  test('a misspelt mechanism parameter is refused under params, not silently dropped', async () => {
    const error = await refusal(edited((raw) => (raw.params = { ttlSeconds: 3, explicitMaxTtlSecond: 10 })));
    expect(error.message).toMatch(/: params\..*"explicitMaxTtlSecond"/);
  });

  test('an unknown end mode names end.mode', async () => {
    const error = await refusal(edited((raw) => (raw.end = { mode: 'forget' })));
    expect(error.message).toMatch(/: end\.mode: /);
  });

  test('an id that is not lower-case and dashes names id', async () => {
    const error = await refusal(edited((raw) => (raw.id = 'Token TTL')));
    expect(error.message).toContain(': id: lower-case letters, digits and dashes');
  });

  test('an unknown severity names severity', async () => {
    const error = await refusal(edited((raw) => (raw.severity = 'urgent')));
    expect(error.message).toMatch(/: severity: /);
  });

  test('a blank need is refused', async () => {
    const error = await refusal(edited((raw) => (raw.task = { windowSeconds: 3, needs: ['   '] })));
    expect(error.message).toContain('task.needs: empty entry');
  });

  test('a file that is not YAML is refused as input', async () => {
    const error = await refusal(write('id: [unclosed\n  title: x'));
    expect(error.message).toContain('not valid YAML');
  });

  test('a file that does not exist is refused as input', async () => {
    const error = await refusal(join(dir, 'missing.yaml'));
    expect(error.message).toContain('cannot read (ENOENT)');
  });

  test('a raw scenario merged in code is refused with the source it came from', async () => {
    const raw = valid();
    raw.severity = 'urgent';
    await expect(toScenario(raw, join(dir, 'merged-twin.yaml'))).rejects.toThrow(new RegExp(`^${join(dir, 'merged-twin.yaml')}: severity: `));
  });
});

describe('durations', () => {
  test.each([
    ['3s', 3_000],
    ['500ms', 500],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['1.5s', 1_500],
    [' 2 s ', 2_000],
  ])('"%s" is %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  test.each(['3', '3 parsecs', '-3s', 's', '', '3d'])('"%s" is not a duration', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });

  test('durations are shown in the unit a reader expects', () => {
    expect(formatMs(250.4)).toBe('250 ms');
    expect(formatMs(1_500)).toBe('1.5 s');
    expect(formatMs(300_000)).toBe('5.0 min');
  });
});

describe('the built-in scenarios', () => {
  const adapters = readdirSync(BUILTIN_DIR);
  const builtin = adapters.flatMap((adapter) =>
    readdirSync(join(BUILTIN_DIR, adapter))
      .filter((n) => n.endsWith('.yaml'))
      .map((name) => ({ adapter, name, file: join(BUILTIN_DIR, adapter, name) })),
  );

  test('there are built-in scenarios to load', () => {
    expect(builtin.length).toBeGreaterThan(0);
  });

  test.each(builtin)('$adapter/$name loads, lives under its adapter and is named after its id', async ({ adapter, name, file }) => {
    const scenario = await loadScenarioFile(file);
    expect(scenario.adapter).toBe(adapter);
    expect(scenario.id).toBe(basename(name, '.yaml'));
  });

  test('every built-in scenario loads together, with unique ids', async () => {
    const scenarios = await loadBuiltinScenarios();
    expect(scenarios).toHaveLength(builtin.length);
    expect(new Set(scenarios.map((s) => `${s.adapter}/${s.id}`)).size).toBe(scenarios.length);
  });

  test.each(adapters)('every broken twin of %s loads and expects only checks the catalogue knows', async (adapter) => {
    const checks = loadCatalogue().checks;
    for (const twin of await loadTwins(adapter)) {
      expect(twin.scenario.id).toBe(`${twin.of}-twin`);
      for (const name of twin.failedChecks) expect(checks.has(name), `${twin.of} twin expects ${name}`).toBe(true);
    }
  });
});
