/**
 * Loading scenario files: YAML in, typed {@link Scenario} out, or one InputError naming the file
 * and the field. The mechanism's own schema validates `params`, so a typo in a TTL is caught here
 * and not half-way through a run.
 */
import { closeSync, openSync, readSync, readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CST, Lexer, parseDocument } from 'yaml';
import type { z } from 'zod';
import { InputError, mechanismOf } from '../adapters/contract.ts';
import { getAdapter } from '../adapters/registry.ts';
import { checkDefinition } from './catalogue.ts';
import { scenarioFileSchema, type Scenario } from './schema.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUILTIN_DIR = join(PROJECT_ROOT, 'scenarios', 'builtin');

/** "params.ttlSeconds: expected number" — the first issue, with its path under `prefix`, in one line. */
export function describeIssue(error: z.ZodError, prefix?: string): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = [...(prefix ? [prefix] : []), ...issue.path.map(String)];
  // An unknown key is named in the path itself: "params.ttlSecond: unknown key (a typo?)".
  if (issue.code === 'unrecognized_keys') return `${[...path, issue.keys[0]].join('.')}: unknown key "${issue.keys[0]}" (a typo?)`;
  return `${path.length > 0 ? path.join('.') : '(top level)'}: ${issue.message}`;
}

export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

/**
 * Caps on every input file (config, scenario, waiver): its size, counted while it is read (a FIFO,
 * /dev/stdin or a file that grows cannot slip past a stat()), the YAML nodes it holds and the
 * aliases in it (each alias can stand for a whole subtree: a few lines could expand to gigabytes).
 * Real files are a few kilobytes and a few hundred nodes.
 */
export const INPUT_LIMITS = { bytes: 1024 * 1024, nodes: 20_000, aliases: 100, flowDepth: 64 } as const;

/** The file's text, refused as soon as more than INPUT_LIMITS.bytes have been read. */
function readCapped(file: string): string {
  const where = displayPath(file);
  const cannotRead = (error: unknown): InputError => new InputError(`${where}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  let fd: number;
  // An inherited descriptor (`--config /dev/stdin`) that is a socket cannot be opened again (ENXIO): read it as it is.
  const inherited = file === '/dev/stdin' ? 0 : Number(/^\/(?:dev\/fd|proc\/self\/fd)\/(\d+)$/.exec(file)?.[1] ?? Number.NaN);
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENXIO' || Number.isNaN(inherited)) throw cannotRead(error);
    fd = inherited;
  }
  try {
    const chunks: Buffer[] = [];
    const buffer = Buffer.alloc(64 * 1024);
    let total = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        // A non-blocking stream (stdin shared with a parent) has no data yet: wait for it.
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
          continue;
        }
        throw cannotRead(error);
      }
      if (n === 0) break;
      total += n;
      if (total > INPUT_LIMITS.bytes) throw new InputError(`${where}: larger than ${INPUT_LIMITS.bytes} bytes (1 MiB), the limit for input files`);
      chunks.push(Buffer.from(buffer.subarray(0, n)));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    if (fd !== inherited) closeSync(fd);
  }
}

/** Token kinds that each begin a YAML node: a scalar, an alias, a flow collection, a block sequence item. */
const NODE_TOKENS = new Set(['scalar', 'single-quoted-scalar', 'double-quoted-scalar', 'block-scalar-header', 'alias', 'flow-map-start', 'flow-seq-start', 'seq-item-ind', 'explicit-key-ind']);

/**
 * Counted on the lexer's token stream, which stops at the first limit passed: composing the
 * document first would already cost seconds and hundreds of megabytes on a 1 MiB list.
 */
function overLimits(text: string): string | undefined {
  let nodes = 0;
  let aliases = 0;
  let depth = 0;
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    if (!type) continue;
    if (NODE_TOKENS.has(type) && ++nodes > INPUT_LIMITS.nodes) return `more than ${INPUT_LIMITS.nodes} YAML nodes`;
    if (type === 'alias' && ++aliases > INPUT_LIMITS.aliases) return `more than ${INPUT_LIMITS.aliases} YAML aliases (*name)`;
    if ((type === 'flow-map-start' || type === 'flow-seq-start') && ++depth > INPUT_LIMITS.flowDepth) return `[ or { nested more than ${INPUT_LIMITS.flowDepth} deep`;
    if (type === 'flow-map-end' || type === 'flow-seq-end') depth--;
  }
  return undefined;
}

export function readYaml(file: string): unknown {
  const where = displayPath(file);
  const text = readCapped(file);
  const over = overLimits(text);
  if (over) throw new InputError(`${where}: ${over}, the limit for input files`);
  try {
    const document = parseDocument(text, { uniqueKeys: true });
    const error = document.errors[0];
    if (error) throw error;
    return document.toJS({ maxAliasCount: INPUT_LIMITS.aliases });
  } catch (error) {
    throw new InputError(`${where}: not valid YAML (${(error as Error).message.split('\n')[0]})`);
  }
}

/** Validate a raw scenario object (from a file or a twin merge) into a Scenario. */
export async function toScenario(raw: unknown, source: string): Promise<Scenario> {
  const where = displayPath(source);
  const file = scenarioFileSchema.safeParse(raw);
  if (!file.success) throw new InputError(`${where}: ${describeIssue(file.error)}`);
  const adapter = await getAdapter(file.data.adapter).catch((error: Error) => {
    throw new InputError(`${where}: adapter: ${error.message}`);
  });
  const mechanism = mechanismOf(adapter, file.data.mechanism);
  if (!mechanism) {
    throw new InputError(
      `${where}: mechanism: "${file.data.mechanism}" is not a mechanism of adapter ${adapter.name} (known: ${Object.keys(adapter.mechanisms).join(', ')})`,
    );
  }
  const params = mechanism.params.safeParse(file.data.params);
  if (!params.success) throw new InputError(`${where}: ${describeIssue(params.error, 'params')}`);
  for (const need of file.data.task.needs) if (need.trim() === '') throw new InputError(`${where}: task.needs: empty entry`);
  return { ...file.data, params: params.data, source: where };
}

export async function loadScenarioFile(file: string): Promise<Scenario> {
  return toScenario(readYaml(file), file);
}

/** Every built-in scenario of the given adapters (all adapters when the list is empty), sorted by id. */
export async function loadBuiltinScenarios(adapters: readonly string[] = []): Promise<Scenario[]> {
  if (!existsSync(BUILTIN_DIR)) return [];
  const folders = readdirSync(BUILTIN_DIR).filter((f) => adapters.length === 0 || adapters.includes(f));
  const scenarios: Scenario[] = [];
  for (const folder of folders.sort()) {
    const dir = join(BUILTIN_DIR, folder);
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.yaml')).sort()) {
      const scenario = await loadScenarioFile(join(dir, name));
      if (scenario.adapter !== folder) {
        throw new InputError(`${scenario.source}: adapter: "${scenario.adapter}" but the file lives under ${folder}/`);
      }
      scenarios.push(scenario);
    }
  }
  const seen = new Set<string>();
  for (const s of scenarios) {
    const key = `${s.adapter}/${s.id}`;
    if (seen.has(key)) throw new InputError(`${s.source}: id: "${s.id}" is used twice`);
    seen.add(key);
  }
  return scenarios;
}

/** Catalogue ids a scenario's checks use must exist; called by the engine before it reports a check. */
export function assertKnownCheck(id: string): void {
  checkDefinition(id);
}
