/**
 * Malformed input end to end, through the real `jitc` command line: a sample drawn from the same
 * generators as the in-process property tests (flags, gate rules, config files, adapter sections,
 * scenario files, waiver files, run ids, output paths). Each exits 2 with one line on stderr naming
 * the flag or the file and field, no stack trace, nothing on stdout, no server started, and no
 * output directory or history file written.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { loadCatalogue } from '../../scenarios/catalogue.ts';
import { jitcAsync } from '../support/cli.ts';
import { serversStartedBy } from '../support/run-servers.ts';
import { malformedConfig, malformedGateRule, malformedScenario, malformedSection, malformedWaivers } from './malformed.ts';
import { displayPath } from '../../scenarios/input.ts';

/** How many command lines of each kind are run: 17 kinds, 34 spawns (the count the assurance report quotes). */
export const RUNS_PER_KIND = 2;

const dir = mkdtempSync(join(tmpdir(), 'jitc-property-cli-'));
let written = 0;
const fileWith = (text: string): string => {
  const file = join(dir, `input-${++written}.yaml`);
  writeFileSync(file, text);
  return file;
};

interface CliCase {
  args: string[];
  /** What the one stderr line must contain: the flag, or the file and field. */
  names: string;
  what: string;
}

const word = fc.stringMatching(/^[a-z][a-z0-9-]{2,12}$/);
const OPTIONS = ['suite', 'scenario', 'scenario-file', 'target', 'config', 'out', 'concurrency', 'waivers', 'no-waivers', 'html', 'fail-on', 'shard', 'metrics', 'every', 'history', 'sign-key', 'help'];
const COMMANDS = ['run', 'merge', 'history', 'verify', 'list', 'targets', 'report', 'cleanup', 'discover', 'help'];
const catalogue = loadCatalogue();

/** A file's problem as the CLI prints it: `jitc: <file>: <field>`. */
const inFile = (file: string, field: string): string => `${displayPath(file)}: ${field}`;

/** Each kind of malformed command line, drawn from its generator. */
const KINDS: Record<string, fc.Arbitrary<CliCase>> = {
  'an unknown option': word.filter((w) => !OPTIONS.includes(w)).map((w) => ({ args: ['run', `--${w}`], names: `unknown option '--${w}'`, what: 'an unknown option' })),
  'an unknown command': word.filter((w) => !COMMANDS.includes(w)).map((w) => ({ args: [w], names: `unknown command '${w}'`, what: 'an unknown command' })),
  '--target': word.filter((w) => !['local', 'container', 'external'].includes(w)).map((w) => ({ args: ['run', '--target', w], names: '--target', what: 'a target mode that does not exist' })),
  '--concurrency': fc.oneof(fc.constantFrom('0', '-1', '1.5', 'many', '2x', '1001', '100000'), word).map((n) => ({ args: ['run', '--concurrency', n], names: '--concurrency', what: 'a concurrency that is not a whole number from 1 to 1000' })),
  'history --last': fc.constantFrom('0', '-2', 'ten').map((n) => ({ args: ['history', '--last', n], names: '--last', what: 'a --last that is not a whole number' })),
  '--shard': fc.oneof(fc.constantFrom('0/3', '4/3', '1/0', '1-2', '/', '2/'), word).map((s) => ({ args: ['run', '--shard', s], names: '--shard', what: 'a shard that is not i/n' })),
  '--every': fc.oneof(fc.constantFrom('500ms', '0s', '1', 'soon', '-5m'), word).map((d) => ({ args: ['run', '--every', d], names: '--every', what: 'an interval that is not a duration of at least 1s' })),
  '--suite': word.filter((w) => !['vault', 'aws', 'ldap'].includes(w)).map((w) => ({ args: ['run', '--suite', w], names: `--suite: unknown suite "${w}"`, what: 'an unknown suite' })),
  '--scenario': word.map((w) => ({ args: ['run', '--suite', 'vault', '--scenario', `zz-${w}`], names: `--scenario: no scenario "zz-${w}"`, what: 'an unknown scenario' })),
  '--fail-on': malformedGateRule([...catalogue.controls.keys()], [...catalogue.checks.keys()]).map((r) => ({ args: ['run', '--fail-on', r.rule], names: '--fail-on: ', what: `gate rule ${JSON.stringify(r.rule)}: ${r.what}` })),
  '--config file': malformedConfig.map((bad) => {
    const file = fileWith(bad.text);
    return { args: ['run', '--config', file], names: inFile(file, bad.field), what: `config: ${bad.what}` };
  }),
  'adapter section of --config, --target external': malformedSection.map((bad) => {
    const file = fileWith(bad.text);
    return { args: ['run', '--suite', bad.adapter, '--target', 'external', '--config', file], names: inFile(file, bad.field), what: `config section: ${bad.what}` };
  }),
  '--scenario-file': malformedScenario.map((bad) => {
    const file = fileWith(bad.text);
    return { args: ['run', '--scenario-file', file], names: inFile(file, bad.field), what: `scenario file: ${bad.what}` };
  }),
  '--waivers file': malformedWaivers.map((bad) => {
    const file = fileWith(bad.text);
    return { args: ['run', '--suite', 'vault', '--waivers', file], names: inFile(file, bad.field), what: `waiver file: ${bad.what}` };
  }),
  'cleanup --run': fc.oneof(fc.constantFrom('../../etc', 'AB', 'a b', 'x'), fc.stringMatching(/^[a-z0-9]{17,20}$/)).map((id) => ({ args: ['cleanup', '--run', id], names: `--run: "${id}" is not a run id`, what: 'a run id that is not one' })),
  '--out that is a file': fc.constant(null).map(() => ({ args: ['run', '--out', fileWith('a file where the output directory should go\n')], names: '--out: ', what: 'an --out that is a file' })),
  'an option without its argument': fc.constantFrom('--out', '--config', '--suite', '--fail-on', '--waivers', '--metrics').map((flag) => ({ args: ['run', flag], names: `option '${flag} <`, what: `${flag} without its argument` })),
};

describe('malformed command lines exit 2 with one line, and start nothing', () => {
  test.each(Object.entries(KINDS))(`%s (${RUNS_PER_KIND} drawn)`, async (_kind, arbitrary) => {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (bad) => {
        const out = join(dir, `out-${++written}`);
        const history = join(dir, `history-${written}.sqlite`);
        // A run's outputs go to fresh paths, so "nothing written" can be checked; the flag under test comes last and wins.
        const args = bad.args[0] === 'run' ? ['run', '--out', out, '--history', history, ...bad.args.slice(1)] : bad.args;
        const result = await jitcAsync(args, { VAULT_ADDR: '', VAULT_TOKEN: '', BAO_ADDR: '', BAO_TOKEN: '' }).done;
        const context = `${bad.what}\n  jitc ${args.join(' ')}\n  stderr: ${result.stderr}`;
        expect(result.code, context).toBe(2);
        const lines = result.stderr.trim().split('\n');
        expect(lines, context).toHaveLength(1);
        expect(lines[0]!.startsWith('jitc: '), context).toBe(true);
        expect(lines[0], context).toContain(bad.names);
        expect(result.stderr, context).not.toMatch(/\n\s+at |\bat .*:\d+:\d+/);
        expect(result.stdout, context).toBe('');
        expect(serversStartedBy(result.pid), context).toEqual([]);
        expect(existsSync(out), context).toBe(false);
        expect(existsSync(history), context).toBe(false);
      }),
      { numRuns: RUNS_PER_KIND, endOnFailure: true },
    );
  }, 60_000);
});
