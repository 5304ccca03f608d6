/**
 * Scanning text for secrets known only by their fingerprints (scenarios/secrets.ts): a fingerprint
 * cannot be searched for, so the text is cut into every string a secret could be, and each is
 * fingerprinted and looked up. Candidates, within each run of the characters secrets are made of:
 * - the whole run (a secret standing alone: a JSON string, a word in a log line);
 * - every window of each length the adapters' secrets have (a secret glued into a longer run:
 *   `token=…`, `Bearer…`, base64 or base64url text on either side);
 * - in runs up to {@link SEPARATED_MAX} characters, every substring from a separator (or the run's
 *   start) to a separator (or its end): a secret of a length not listed, written as `key=value`,
 *   `prefix.value`, `a/value/b`.
 * A hit names the file, the offset and the fingerprint — never the secret it found.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprint } from '../../scenarios/secrets.ts';

/** base64 and base64url, hex, UUIDs, Vault/OpenBao tokens (with their dot), URL-safe punctuation. */
const RUN = /[A-Za-z0-9+/=._~-]{8,}/g;
const SEPARATORS = new Set(['+', '/', '=', '.', '_', '~', '-']);
const SHORTEST = 8;

/**
 * The lengths of the secrets as the adapters and the targets make them:
 * 24 — base64url of 18 random bytes (the local OpenBao root token, the local slapd's admin password,
 *      every LDAP account password) and hex of 12 bytes (the LDAP protected value a grant reads);
 * 26 — OpenBao service and response-wrapping tokens ("s." and 24 more, as OpenBao 2 issues them);
 * 32 — hex of 16 bytes (the Vault task secret);
 * 36 — UUIDs (AppRole secret_ids, OpenBao accessors for what it is worth);
 * 40 — AWS secret access keys (AWS and moto alike);
 * 356 — moto's STS session tokens (base64 of 266 random bytes).
 * The hygiene test holds every raw secret an audited OpenBao records against this list.
 */
export const SECRET_LENGTHS: readonly number[] = [24, 26, 32, 36, 40, 356];

/** Runs up to this long are also cut at every pair of separators (quadratic, hence the bound). */
export const SEPARATED_MAX = 512;

export interface Hit {
  where: string;
  offset: number;
  fingerprint: string;
}

export interface ScanStats {
  files: number;
  bytes: number;
  candidates: number;
  hits: Hit[];
}

export class SecretScanner {
  readonly #fingerprints: ReadonlySet<string>;
  readonly #lengths: readonly number[];
  candidates = 0;

  constructor(fingerprints: Iterable<string>, lengths: readonly number[] = SECRET_LENGTHS) {
    this.#fingerprints = new Set(fingerprints);
    this.#lengths = lengths;
  }

  /** Every place in `text` where a candidate has one of the fingerprints. */
  scanText(text: string, where: string): Hit[] {
    const hits = new Map<string, Hit>();
    const check = (run: string, runOffset: number, start: number, end: number): void => {
      this.candidates++;
      const fp = fingerprint(run.slice(start, end));
      if (this.#fingerprints.has(fp)) hits.set(`${runOffset + start}:${fp}`, { where, offset: runOffset + start, fingerprint: fp });
    };
    for (const match of text.matchAll(RUN)) {
      const run = match[0];
      const at = match.index;
      check(run, at, 0, run.length);
      for (const length of this.#lengths) {
        if (length >= run.length) continue;
        for (let i = 0; i + length <= run.length; i++) check(run, at, i, i + length);
      }
      if (run.length <= SEPARATED_MAX) {
        // Boundaries: the run's ends, and both sides of every separator (a secret may start or end with one).
        const bounds = new Set([0, run.length]);
        for (let i = 0; i < run.length; i++) {
          if (SEPARATORS.has(run[i]!)) {
            bounds.add(i);
            bounds.add(i + 1);
          }
        }
        const sorted = [...bounds].sort((a, b) => a - b);
        for (let s = 0; s < sorted.length; s++) {
          for (let e = s + 1; e < sorted.length; e++) {
            const start = sorted[s]!;
            const end = sorted[e]!;
            const length = end - start;
            // The whole run and the fixed lengths are checked above already.
            if (length < SHORTEST || length === run.length || this.#lengths.includes(length)) continue;
            check(run, at, start, end);
          }
        }
      }
    }
    return [...hits.values()];
  }

  /** Every file under `dir`, read byte for byte (latin1: binary files included, nothing decoded away). */
  scanDir(dir: string): ScanStats {
    const stats: ScanStats = { files: 0, bytes: 0, candidates: 0, hits: [] };
    const before = this.candidates;
    for (const file of filesUnder(dir)) {
      const text = readFileSync(file, 'latin1');
      stats.files++;
      stats.bytes += text.length;
      stats.hits.push(...this.scanText(text, file));
    }
    stats.candidates = this.candidates - before;
    return stats;
  }
}

export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}
