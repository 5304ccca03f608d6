/**
 * Secret hygiene: every secret value the harness sees (issued tokens, secret_ids, passwords, keys)
 * is registered here the moment it exists. Everything written to a report, log or evidence file
 * passes through {@link SecretRegistry.redact}, so a value that slipped into a detail string is
 * replaced by its fingerprint instead of being written.
 */
import { createHash } from 'node:crypto';

/** A short, stable, non-reversible name for a secret: what reports show instead of the value. */
export function fingerprint(secret: string): string {
  return `sha256:${createHash('sha256').update(secret).digest('hex').slice(0, 12)}`;
}

export class SecretRegistry {
  readonly #values = new Set<string>();
  /** The values longest first, so a secret that contains another one is replaced whole; sorted again only after an add, not per string redacted. */
  #longestFirst: string[] = [];

  /** Register a secret and get back its fingerprint. Values shorter than 6 characters are not secrets. */
  add(value: string): string {
    if (value.length >= 6 && !this.#values.has(value)) {
      this.#values.add(value);
      this.#longestFirst = [...this.#values].sort((a, b) => b.length - a.length);
    }
    return fingerprint(value);
  }

  get size(): number {
    return this.#values.size;
  }

  /** Fingerprints of every registered value: what reports may say about the secrets they hold back. */
  fingerprints(): string[] {
    return [...this.#values].map(fingerprint).sort();
  }

  /** Every registered value, for the project's own secret-scanning tests only. */
  values(): string[] {
    return [...this.#values];
  }

  redact(text: string): string {
    let out = text;
    for (const value of this.#longestFirst) {
      if (out.includes(value)) out = out.split(value).join(`[redacted ${fingerprint(value)}]`);
    }
    return out;
  }

  /**
   * Redact every string (and key) of a JSON-like value. Walked, not round-tripped through JSON
   * text: there a secret holding a quote or a backslash appears escaped and would not match.
   */
  redactValue<T>(value: T): T {
    return this.#walk(value) as T;
  }

  #walk(value: unknown): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (Array.isArray(value)) return value.map((v) => this.#walk(v));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.redact(k), this.#walk(v)]));
    }
    return value;
  }
}
