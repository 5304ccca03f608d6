/**
 * `jitc discover`: reads the targets' existing configuration (roles, their TTLs and trust) without
 * changing anything, and writes what to test next into an output directory of its own:
 * - one scenario file per object (`<id>.yaml`), exercising the object itself with existing-object
 *   params, ready for `jitc run --scenario-file DIR/*.yaml`;
 * - scenarios that would wait longer than the config's `policy.maxWaitSeconds` for an expiry under
 *   `opt-in/`, which that glob does not pick up: run them on purpose;
 * - `findings.json` and `findings.md`: the static findings (`role-within-window`,
 *   `role-trust-narrow`) judged from configuration alone, and what each adapter read.
 * A field discovery could not fill says `CHANGE-ME`: the file says so at its top, the command's
 * output names it, and the loader refuses the file until it is set.
 *
 * Exit codes, as `jitc run`'s: 0 no static finding fails, 1 one fails, 2 bad input (a flag, the
 * config, an unreachable target, a target that could not be read, a file jitc wrote that does not
 * load). The directory is claimed like a run's outputs (reports/outputs/out-dir.ts): a new or
 * empty directory, or one an earlier `jitc discover` wrote; its files are replaced only when
 * unchanged since then, and the whole is sealed (`jitc verify DIR`).
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { type Adapter, CHANGE_ME, type Discovery, type DiscoveryPolicy, type StaticFinding, type TargetMode } from '../adapters/contract.ts';
import { cell } from '../reports/writers/markdown.ts';
import { bringUp, effectiveMode } from '../adapters/bring-up.ts';
import { loadAdapters } from '../adapters/registry.ts';
import { sealRun } from '../reports/ledger/ledger.ts';
import { digestFile } from '../reports/ledger/manifest.ts';
import { OutputDir, readManifest } from '../reports/outputs/out-dir.ts';
import { loadBuiltinScenarios, toScenario } from '../scenarios/load.ts';
import { scenarioId } from '../scenarios/schema.ts';
import { displayPath, errorText, InputError, PROJECT_ROOT } from '../scenarios/input.ts';
import { adapterSections, loadRunConfig } from './config.ts';
import { DEFAULT_POLICY } from './defaults.ts';
import { outputDir } from './output-paths.ts';
import { newRunId } from './run.ts';

export interface DiscoverFlags {
  target?: 'local' | 'external';
  config?: string;
  suite?: string[];
  out: string;
}

/** The subdirectory of scenarios a default run does not pick up. */
export const OPT_IN_DIR = 'opt-in';
export const FINDINGS_JSON = 'findings.json';
export const FINDINGS_MD = 'findings.md';
const FINDINGS_FORMAT = 'jitc-discovery/1';
/** What an adapter leaves for the user to fill. */
const ID_MAX = 63;
/** Files needing an edit named one per line in the output; findings.md lists every one. */
const EDITS_SHOWN = 20;

/**
 * A scenario id from an object's name: lower-case letters, digits and dashes, valid for the
 * scenario schema, and not in `taken` (built-in ids and ids given before): a clash gets `-2`,
 * `-3`…; a name too long keeps its start and a hash of the whole.
 */
export function scenarioIdFrom(raw: string, taken: ReadonlySet<string>): string {
  let base = raw.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  if (base.length < 2) base = `object${base ? `-${base}` : ''}`;
  if (base.length > ID_MAX) base = `${base.slice(0, ID_MAX - 9).replace(/-+$/, '')}-${createHash('sha256').update(raw).digest('hex').slice(0, 8)}`;
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base.slice(0, ID_MAX - String(n).length - 1).replace(/-+$/, '')}-${n}`;
  if (!scenarioId.safeParse(id).success) throw new Error(`scenario id "${id}" made from "${raw}" is not valid`);
  return id;
}

/** Dotted paths of every value discovery left as CHANGE-ME. */
export function placeholders(value: unknown, path: string[] = []): string[] {
  if (value === CHANGE_ME) return [path.join('.')];
  if (Array.isArray(value)) return value.flatMap((v, i) => placeholders(v, [...path, String(i)]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => placeholders(v, [...path, k]));
  return [];
}

/** What an adapter returns beside its Discovery: lines for the reader (where it read, what it could not fill). */
function notesOf(discovery: Discovery): string[] {
  return discovery.notes ?? [];
}

/** One scenario file as it is written. */
export interface PlannedFile {
  adapter: string;
  id: string;
  /** Relative to the output directory: `<id>.yaml` or `opt-in/<id>.yaml`. */
  path: string;
  optIn: boolean;
  /** Fields left as CHANGE-ME. */
  placeholders: string[];
  text: string;
}

interface AdapterDiscovery {
  adapter: string;
  address: string;
  discovery: Discovery;
  notes: string[];
}

/** The file's text: a header saying where it came from and what to do with it, then the scenario. */
export function scenarioText(file: Omit<PlannedFile, 'text'>, scenario: Record<string, unknown>, origin: string, policy: DiscoveryPolicy): string {
  const header = [`Written by \`jitc discover\` from ${origin}. The object is read, never changed: a run creates only the grant.`];
  if (file.placeholders.length > 0) {
    header.push(
      `${CHANGE_ME}: discovery could not fill ${file.placeholders.join(', ')}. Set ${file.placeholders.length > 1 ? 'them' : 'it'} before running:`,
      'until then the file does not load (jitc run refuses it with one line naming the field).',
    );
  }
  if (file.optIn) {
    header.push(
      `Opt-in: it waits for an expiry longer than policy.maxWaitSeconds (${policy.maxWaitSeconds} s), so \`jitc run --scenario-file DIR/*.yaml\``,
      `does not pick it up. Run it on purpose: jitc run --scenario-file DIR/${file.path}`,
    );
  }
  return `${header.map((line) => `# ${line}`).join('\n')}\n${stringify({ id: file.id, ...scenario }, { lineWidth: 100 })}`;
}

/** Ids and paths for every proposed scenario, in adapter order, never clashing with a built-in or each other. */
export function planFiles(results: readonly AdapterDiscovery[], builtinIds: ReadonlySet<string>, policy: DiscoveryPolicy): PlannedFile[] {
  const taken = new Set(builtinIds);
  const files: PlannedFile[] = [];
  for (const r of results) {
    for (const proposed of r.discovery.scenarios) {
      const id = scenarioIdFrom(proposed.id, taken);
      taken.add(id);
      const { id: _ignored, ...scenario } = proposed.scenario;
      const optIn = proposed.optIn === true;
      const file = { adapter: r.adapter, id, path: optIn ? `${OPT_IN_DIR}/${id}.yaml` : `${id}.yaml`, optIn, placeholders: placeholders(scenario) };
      files.push({ ...file, text: scenarioText(file, scenario, `${r.adapter} at ${r.address}`, policy) });
    }
  }
  return files;
}

const ICON = { pass: '✅ pass', fail: '❌ fail' } as const;

/** findings.md: per adapter what was read, the static findings (failures first) and the files written. */
export function findingsMarkdown(results: readonly AdapterDiscovery[], files: readonly PlannedFile[], policy: DiscoveryPolicy, mode: TargetMode, at: string): string {
  const lines = [
    '# jitc discover',
    '',
    `Read ${at} from ${mode} targets, judged by the policy: approval window at most ${policy.maxWindowSeconds} s (\`policy.maxWindowSeconds\`), expiry waits at most ${policy.maxWaitSeconds} s (\`policy.maxWaitSeconds\`).`,
    '',
  ];
  for (const r of results) {
    const mine = files.filter((f) => f.adapter === r.adapter);
    lines.push(`## ${r.adapter} — ${cell(r.address)}`, '');
    for (const note of r.notes) lines.push(`- ${cell(note)}`);
    lines.push('', '### Static findings', '');
    const ordered = [...r.discovery.findings].sort((a, b) => (a.verdict === b.verdict ? 0 : a.verdict === 'fail' ? -1 : 1));
    if (ordered.length === 0) lines.push('None.');
    // A judge's detail usually opens with the object it names: said once.
    for (const f of ordered) lines.push(`- ${ICON[f.verdict]} · \`${f.check}\` · ${cell(f.detail.startsWith(f.object) ? f.detail : `${f.object}: ${f.detail}`)}`);
    lines.push('', '### Scenarios', '');
    if (mine.length === 0) lines.push('None.');
    for (const f of mine) {
      const marks = [...(f.optIn ? ['opt-in'] : []), ...(f.placeholders.length > 0 ? [`${CHANGE_ME}: ${f.placeholders.join(', ')}`] : [])];
      lines.push(`- \`${f.path}\`${marks.length > 0 ? ` (${marks.join('; ')})` : ''}`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

function findingsJson(results: readonly AdapterDiscovery[], files: readonly PlannedFile[], policy: DiscoveryPolicy, mode: TargetMode, runId: string, at: string): string {
  const all = results.flatMap((r) => r.discovery.findings);
  return `${JSON.stringify(
    {
      format: FINDINGS_FORMAT,
      runId,
      discoveredAt: at,
      target: mode,
      policy,
      totals: { pass: all.filter((f) => f.verdict === 'pass').length, fail: all.filter((f) => f.verdict === 'fail').length },
      adapters: results.map((r) => ({
        adapter: r.adapter,
        address: r.address,
        notes: r.notes,
        findings: r.discovery.findings,
        scenarios: files.filter((f) => f.adapter === r.adapter).map((f) => ({ id: f.id, file: f.path, optIn: f.optIn, placeholders: f.placeholders })),
      })),
    },
    null,
    2,
  )}\n`;
}

function summaryLine(r: AdapterDiscovery, files: readonly PlannedFile[]): string {
  const mine = files.filter((f) => f.adapter === r.adapter);
  const count = (v: StaticFinding['verdict']): number => r.discovery.findings.filter((f) => f.verdict === v).length;
  const optIn = mine.filter((f) => f.optIn).length;
  const edits = mine.filter((f) => f.placeholders.length > 0).length;
  const extra = [...(optIn > 0 ? [`${optIn} opt-in`] : []), ...(edits > 0 ? [`${edits} need an edit`] : [])];
  return `${r.adapter} at ${r.address}: ${mine.length} scenario${mine.length === 1 ? '' : 's'}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}; static findings: ${count('fail')} fail, ${count('pass')} pass`;
}

/** The adapters to discover: those asked for (each must have discovery), or every one that has it. */
async function adaptersToDiscover(asked: string[] | undefined, where: string): Promise<Adapter[]> {
  const all = [...(await loadAdapters()).values()];
  const able = all.filter((a) => a.discover);
  for (const name of asked ?? []) {
    const adapter = all.find((a) => a.name === name);
    if (!adapter) throw new InputError(`${where}: unknown suite "${name}" (known: ${all.map((a) => a.name).join(', ')})`);
    if (!adapter.discover) throw new InputError(`${where}: adapter ${name} has no discovery (adapters that have: ${able.map((a) => a.name).join(', ')})`);
  }
  return asked ? able.filter((a) => asked.includes(a.name)) : able;
}

/**
 * A directory an earlier discovery wrote is replaced only where jitc's own files are unchanged:
 * a scenario the user has edited (a CHANGE-ME filled in) is theirs now, and so is a run's output.
 */
function refuseForeignOutputs(out: OutputDir): void {
  const previous = out.previous;
  if (!previous) return;
  if (!previous.files.some((f) => f.path === FINDINGS_JSON)) {
    throw new InputError(`--out: ${out.dir} holds the outputs of a jitc run, not of jitc discover; give discover a directory of its own`);
  }
  for (const f of previous.files) {
    let now: string | undefined;
    try {
      if (!lstatSync(join(out.dir, f.path)).isFile()) now = 'not a regular file';
      else if (digestFile(out.dir, f.path).sha256 !== f.sha256) now = 'edited';
    } catch {
      continue; // removed since: nothing of the user's to keep
    }
    if (now) throw new InputError(`--out: ${join(out.dir, f.path)} was ${now === 'edited' ? 'edited' : 'replaced'} since jitc discover wrote it; jitc never overwrites a file it did not write: move it away (or choose another --out) and run again`);
  }
}

/** An entry where a new file goes that jitc did not write before: never overwritten. */
function refuseClashes(out: OutputDir, paths: readonly string[]): void {
  const mine = new Set((out.previous?.files ?? []).map((f) => f.path));
  for (const path of paths) {
    let there = false;
    try {
      lstatSync(join(out.dir, path));
      there = true;
    } catch {
      // Free.
    }
    if (there && !mine.has(path)) throw new InputError(`--out: ${join(out.dir, path)} exists and jitc did not write it; move it away and run again`);
  }
}

/** Every written scenario goes through the loader, as `jitc run --scenario-file` will: the ones with CHANGE-ME must not load, the rest must. */
async function loadCheck(files: readonly PlannedFile[], outDir: string): Promise<{ file: PlannedFile; error: string | undefined }[]> {
  return Promise.all(
    files.map(async (file) => {
      try {
        await toScenario(parse(file.text), join(outDir, file.path));
        return { file, error: undefined };
      } catch (error) {
        return { file, error: errorText(error) };
      }
    }),
  );
}

export async function discoverCommand(flags: DiscoverFlags, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const config = await loadRunConfig(flags.config);
  const policy = config.policy ?? DEFAULT_POLICY;
  const adapters = await adaptersToDiscover(flags.suite ?? config.suites, flags.suite ? '--suite' : `${flags.config}: suites`);
  const mode = await effectiveMode(flags.target ?? config.target ?? 'local', log);
  const dir = outputDir(resolve(flags.out), '--out');
  const builtinIds = new Set((await loadBuiltinScenarios()).map((s) => s.id));
  const runId = newRunId();
  const out = OutputDir.claim(dir, { where: '--out', runId, command: 'discover', log });
  try {
    refuseForeignOutputs(out);
    return await discoverInto(out, { adapters, mode, policy, runId, builtinIds, flags, sections: adapterSections(config, adapters.map((a) => a.name)), log });
  } finally {
    out.abandon();
  }
}

interface Plan {
  adapters: Adapter[];
  mode: TargetMode;
  policy: DiscoveryPolicy;
  runId: string;
  builtinIds: Set<string>;
  flags: DiscoverFlags;
  sections: Record<string, Record<string, unknown>>;
  log: (line: string) => void;
}

async function discoverInto(out: OutputDir, p: Plan): Promise<number> {
  const at = new Date().toISOString();
  const targets = await bringUp(p.adapters, { runId: p.runId, projectRoot: PROJECT_ROOT, mode: p.mode, config: p.sections, ...(p.flags.config ? { configFile: p.flags.config } : {}), log: p.log });
  let results: AdapterDiscovery[];
  try {
    results = await Promise.all(
      p.adapters.map(async (adapter): Promise<AdapterDiscovery> => {
        const target = targets.find((t) => t.connection.adapter === adapter.name)!;
        const client = await adapter.connect(target.connection);
        try {
          const discovery = await adapter.discover!(client, p.policy);
          return { adapter: adapter.name, address: target.connection.address, discovery, notes: notesOf(discovery) };
        } catch (error) {
          // A target that could not be read is not a target without findings: nothing is written.
          throw new InputError(`${adapter.name} at ${target.connection.address}: could not read its configuration: ${errorText(error)}`);
        } finally {
          await adapter.disconnect?.(client);
        }
      }),
    );
  } finally {
    await Promise.allSettled(targets.map((t) => t.stop()));
  }

  const files = planFiles(results, p.builtinIds, p.policy);
  const loaded = await loadCheck(files, out.dir);
  const broken = loaded.filter((l) => l.file.placeholders.length === 0 && l.error !== undefined);
  if (broken.length > 0) throw new InputError(`discovered scenario does not load: ${broken[0]!.error}${broken.length > 1 ? ` (and ${broken.length - 1} more)` : ''}`);

  if (files.some((f) => f.optIn)) mkdirSync(join(out.staging, OPT_IN_DIR));
  for (const f of files) writeFileSync(join(out.staging, f.path), f.text);
  writeFileSync(join(out.staging, FINDINGS_JSON), findingsJson(results, files, p.policy, p.mode, p.runId, at));
  writeFileSync(join(out.staging, FINDINGS_MD), findingsMarkdown(results, files, p.policy, p.mode, at));
  p.log(sealRun(out.staging));
  refuseClashes(out, readManifest(out.staging)?.files.map((f) => f.path) ?? []);
  out.commit();

  const print = (line: string): void => void process.stdout.write(`${line}\n`);
  for (const r of results) print(summaryLine(r, files));
  const edits = loaded.filter((x) => x.file.placeholders.length > 0);
  for (const l of edits.slice(0, EDITS_SHOWN)) {
    print(l.error === undefined ? `warning: ${l.file.path} holds ${CHANGE_ME} (${l.file.placeholders.join(', ')}) and still loads` : `needs an edit: ${l.error}`);
  }
  if (edits.length > EDITS_SHOWN) print(`needs an edit: ${edits.length - EDITS_SHOWN} more files (${FINDINGS_MD} lists them all)`);
  const where = displayPath(out.dir);
  const optIn = files.filter((f) => f.optIn).length;
  print(`wrote ${where}: ${files.length - optIn} scenario files${optIn > 0 ? `, ${optIn} opt-in under ${OPT_IN_DIR}/` : ''}, ${FINDINGS_JSON}, ${FINDINGS_MD}`);
  if (files.length > optIn) print(`run them: jitc run --scenario-file ${where}/*.yaml${p.mode === 'external' ? ' --target external' : ''}${p.flags.config ? ` --config ${p.flags.config}` : ''}`);
  const failed = results.flatMap((r) => r.discovery.findings).filter((f) => f.verdict === 'fail');
  print(failed.length > 0 ? `jitc discover: ${failed.length} static finding${failed.length === 1 ? '' : 's'} fail (exit 1)` : 'jitc discover: no static finding fails');
  return failed.length > 0 ? 1 : 0;
}
