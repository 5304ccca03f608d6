/**
 * manifest.json: the sha256 of every file a run left in its output dir, the head of the event
 * chain, and (when signed) which key signed it. It carries a digest of itself too, so a hand edit
 * that does not recompute it is named as a manifest edit; against an editor who does, only the
 * signature (manifest.sig, over the exact bytes of manifest.json) protects.
 */
import { lstatSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { canonicalJson, EVENT_LOG_FORMAT, sha256Hex } from './event-log.ts';
import { BOOKKEEPING } from '../outputs/out-layout.ts';

export const MANIFEST = 'manifest.json';
export const SIGNATURE = 'manifest.sig';
export const MANIFEST_FORMAT = 'jitc-manifest/1';
/** The seal's own files: they cannot list themselves. */
export const SEAL_FILES: readonly string[] = [MANIFEST, SIGNATURE];

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in hex');

export const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  runId: z.string(),
  sealedAt: z.string(),
  eventLog: z.strictObject({ file: z.string(), format: z.literal(EVENT_LOG_FORMAT), records: z.number().int().nonnegative(), head: hex64 }),
  files: z.array(z.strictObject({ path: z.string().refine((p) => isInsidePath(p), 'a path inside the directory'), sha256: hex64, bytes: z.number().int().nonnegative() })),
  signature: z.strictObject({ file: z.literal(SIGNATURE), algorithm: z.string(), publicKeySha256: hex64 }).optional(),
  digest: hex64,
});

export type Manifest = z.infer<typeof manifestSchema>;
export type FileDigest = Manifest['files'][number];

/** What an entry of an output directory is, read with lstat: a link is never followed. */
export type EntryKind = 'file' | 'directory' | 'symlink' | 'fifo' | 'socket' | 'device';

export interface DirEntry {
  /** Relative to the directory walked, with `/` separators. */
  path: string;
  kind: EntryKind;
}

function kindOf(stat: Stats): EntryKind {
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isDirectory()) return 'directory';
  if (stat.isFile()) return 'file';
  if (stat.isFIFO()) return 'fifo';
  if (stat.isSocket()) return 'socket';
  return 'device';
}

/**
 * Every entry under `dir` except the seal's own files and jitc's bookkeeping at the top, in
 * code-unit order. Only directories are opened (never through a link): a FIFO, socket, device or
 * link is listed with its kind and never read, so a planted FIFO cannot hang a seal or a check.
 */
export function listEntries(dir: string): DirEntry[] {
  const out: DirEntry[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel))) {
      if (!rel && (SEAL_FILES.includes(name) || BOOKKEEPING.includes(name))) continue;
      const path = rel ? `${rel}/${name}` : name;
      const kind = kindOf(lstatSync(join(dir, path)));
      out.push({ path, kind });
      if (kind === 'directory') walk(path);
    }
  };
  walk('');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export function digestFile(dir: string, path: string): FileDigest {
  const data = readFileSync(join(dir, path));
  return { path, sha256: sha256Hex(data), bytes: data.length };
}

/** The digest of every regular file under `dir` (see listEntries): what a seal lists. */
export function digestFiles(dir: string): FileDigest[] {
  return listEntries(dir)
    .filter((e) => e.kind === 'file')
    .map((e) => digestFile(dir, e.path));
}

/** A manifest path names a file inside the directory: relative, no `..`, no empty part. */
export function isInsidePath(path: string): boolean {
  const parts = path.split('/');
  return path.length > 0 && !path.startsWith('/') && !path.includes('\\') && parts.every((p) => p !== '' && p !== '.' && p !== '..');
}

export function manifestDigest(manifest: Omit<Manifest, 'digest'> | Manifest): string {
  const { digest: _ignored, ...body } = manifest as Manifest;
  return sha256Hex(canonicalJson(body));
}

export function renderManifest(body: Omit<Manifest, 'digest'>): string {
  const manifest: Manifest = { ...body, digest: manifestDigest(body) };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
