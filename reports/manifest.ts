/**
 * manifest.json: the sha256 of every file a run left in its output dir, the head of the event
 * chain, and (when signed) which key signed it. It carries a digest of itself too, so a hand edit
 * that does not recompute it is named as a manifest edit; against an editor who does, only the
 * signature (manifest.sig, over the exact bytes of manifest.json) protects.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { canonicalJson, EVENT_LOG_FORMAT, sha256Hex } from './event-log.ts';

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
  files: z.array(z.strictObject({ path: z.string(), sha256: hex64, bytes: z.number().int().nonnegative() })),
  signature: z.strictObject({ file: z.literal(SIGNATURE), algorithm: z.string(), publicKeySha256: hex64 }).optional(),
  digest: hex64,
});

export type Manifest = z.infer<typeof manifestSchema>;
export type FileDigest = Manifest['files'][number];

/**
 * Every file under `dir` except the seal's own, relative with `/` separators, in code-unit order.
 * A symlink is digested as its target path, not followed: a link swapped in for a file is a change.
 */
export function digestFiles(dir: string): FileDigest[] {
  const out: FileDigest[] = [];
  const walk = (rel: string): void => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (!rel && SEAL_FILES.includes(entry.name)) continue;
      const full = join(dir, path);
      if (entry.isDirectory()) walk(path);
      else if (entry.isSymbolicLink()) {
        const target = Buffer.from(`symlink:${readlinkSync(full)}`);
        out.push({ path, sha256: sha256Hex(target), bytes: lstatSync(full).size });
      } else {
        const data = readFileSync(full);
        out.push({ path, sha256: sha256Hex(data), bytes: data.length });
      }
    }
  };
  walk('');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export function manifestDigest(manifest: Omit<Manifest, 'digest'> | Manifest): string {
  const { digest: _ignored, ...body } = manifest as Manifest;
  return sha256Hex(canonicalJson(body));
}

export function renderManifest(body: Omit<Manifest, 'digest'>): string {
  const manifest: Manifest = { ...body, digest: manifestDigest(body) };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
