/**
 * The input edge every part shares: the project root, the one error type for bad input, reading
 * YAML with caps on size and shape, and the one-line wording of an error or a schema issue.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { relative } from 'node:path';
import { CST, Lexer, parseDocument } from 'yaml';
import type { z } from 'zod';
import { packageRoot } from '../adapters/paths.ts';

/** Bad input from the user (config, scenario file, flag, unreachable target): one line, exit 2. */
export class InputError extends Error {
  override name = 'InputError';
}

/** jitc's package root, also when this runs compiled from dist/. */
export const PROJECT_ROOT = packageRoot();

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

/** An error's whole reason on one line: no reason is ever shortened away. */
export function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join(' ');
}
