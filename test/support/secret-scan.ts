/**
 * Scanning what a run wrote for secrets. Two kinds of finding:
 *
 * A secret the run registered, known to the scan only by its fingerprint (scenarios/secrets.ts).
 * A fingerprint cannot be searched for, so the text is cut into every string a secret could be,
 * and each is fingerprinted and looked up. Candidates, within each run of the characters secrets
 * are made of:
 * - the whole run (a secret standing alone: a JSON string, a word in a log line);
 * - every window of each length the adapters' secrets have (a secret glued into a longer run:
 *   `token=…`, `Bearer…`, base64 or base64url text on either side);
 * - in runs up to {@link SEPARATED_MAX} characters, every substring from a separator (or the run's
 *   start) to a separator (or its end): a secret of a length not listed, written as `key=value`,
 *   `prefix.value`, `a/value/b`; in longer runs, the pieces between one separator character, or
 *   between one and then another (a long bearer token after `token=` or between slashes).
 * A run a line break splits — a secret wrapped over lines, in a file, in a JSON string (`\n`,
 * once or twice escaped) or in an XML attribute (`&#10;`) — is also joined and cut again, keeping
 * the candidates that cross a break (the others were cut already).
 *
 * A private key, registered or not, by its shape — a registered key is held as its whole PEM
 * text, which no run of characters can hold, so its fingerprint alone would never be found:
 * - a PEM block whose label ends in PRIVATE KEY (PKCS#8, RSA, EC, OPENSSH, ENCRYPTED…) with a
 *   body after it, lines broken as a file, a JSON string or XML writes them, or folded onto one
 *   line with spaces;
 * - a body without its header, wrapped or not, glued to other text or not, found by decoding:
 *   DER that a private key parser accepts (PKCS#8, PKCS#1, SEC1), an encrypted PKCS#8 key's
 *   password-based encryption, or OpenSSH's `openssh-key-v1` format.
 * Certificates and public keys have neither shape: they are not secrets, and are not found.
 * A key the run registered is named by the registered fingerprint (its PEM is rebuilt as the
 * usual writers wrap it: the lines as found, 64 or 70 wide, with or without the last newline);
 * any other by the fingerprint of its base64 body.
 *
 * A hit names the file, the offset, what was found and a fingerprint — never the secret itself.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newPassword } from '../../adapters/ldap/passwords.ts';
import { fingerprint } from '../../scenarios/secrets.ts';

/** base64 and base64url, hex, UUIDs, Vault/OpenBao tokens (with their dot), URL-safe punctuation. */
const RUN_CHARS = '[A-Za-z0-9+/=._~-]';
const RUN = new RegExp(`${RUN_CHARS}{8,}`, 'g');
const SEPARATORS = new Set(['+', '/', '=', '.', '_', '~', '-']);
const SHORTEST = 8;

/** A line break as a file (LF, CRLF), a JSON string (escaped once or more) or an XML attribute writes it. */
const BREAK = String.raw`(?:\r?\n|(?:\\+r)?\\+n|(?:&#(?:13|[xX]0*[dD]);)?&#(?:10|[xX]0*[aA]);)`;
/** What may stand between the words and lines of a PEM block: blanks and line breaks. */
const GAP = String.raw`(?:[ \t]|${BREAK})`;
/** A break and the indentation after it: what a wrapped line is cut at. */
const LINE_BREAK = new RegExp(`${BREAK}[ \\t]*`, 'g');
/**
 * Runs that continue on the next line. A line that a writer wrapped is a full one, so only a
 * run of at least 16 characters before a break is joined to what follows it. The first run is
 * taken whole, from its start and without giving any of it back (a lookahead and its
 * backreference make an atomic group): tried from every character of a long run, the pattern
 * would take time quadratic in its length.
 */
const WRAP_MIN = 16;
const WRAPPED = new RegExp(`(?<!${RUN_CHARS})(?=(${RUN_CHARS}{${WRAP_MIN},}))\\1(?:${BREAK}[ \\t]*${RUN_CHARS}+)+`, 'g');

const PEM_PRIVATE = new RegExp(String.raw`-----BEGIN${GAP}+((?:[A-Z0-9]+${GAP}+)*?)PRIVATE${GAP}+KEY${GAP}*-----`, 'g');
/** RFC 1421 header lines an old-style encrypted PEM key carries before its body (Proc-Type, DEK-Info). */
const PEM_HEADERS = new RegExp(String.raw`${GAP}*(?:[A-Za-z][A-Za-z-]*:[ \t]*[^\s\\&]*${GAP}+)*`, 'y');
const PEM_BODY = new RegExp(String.raw`(${GAP}+)|([A-Za-z0-9+/=]+)`, 'y');
/** A PEM body shorter than this is no key (a header quoted in prose, a redacted value). */
const PEM_BODY_MIN = 16;

/** What an OpenSSH private key starts with, and the base64 text that makes. */
const OPENSSH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
const OPENSSH_BASE64 = OPENSSH_MAGIC.toString('base64');
/**
 * Where a key body may start: DER's SEQUENCE tag (0x30) and a first length byte make `M` and one
 * of A–P in base64; OpenSSH's magic is spelled out.
 */
const KEY_START = new RegExp(`(?=(M[A-P]|${OPENSSH_BASE64}))`, 'g');
/** The smallest private key DER (an Ed25519 PKCS#8 key is 48 bytes) and a bound on the largest. */
const DER_MIN = 40;
const DER_MAX = 16_384;
/** Password-based encryption OIDs an encrypted PKCS#8 key names first: PKCS#5 (1.2.840.113549.1.5.*) and PKCS#12 (1.2.840.113549.1.12.1.*). */
const PBE_OIDS = [Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05]), Buffer.from([0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01])];

/**
 * The lengths of the secrets as the adapters and the targets make them:
 * 20 — OpenBao's database engine passwords (its default generator: letters, digits and a dash);
 * 24 — base64url of 18 random bytes (the local OpenBao root token, the local slapd's admin password,
 *      every LDAP account password jitc makes, the local PostgreSQL's admin password) and hex of
 *      12 bytes (the LDAP protected value a grant reads);
 * 26 — OpenBao service and response-wrapping tokens ("s." and 24 more, as OpenBao 2 issues them);
 * 32 — hex of 16 bytes (the Vault task secret);
 * 36 — UUIDs (AppRole secret_ids, OpenBao accessors for what it is worth);
 * 40 — AWS secret access keys (AWS and moto alike);
 * 64 — OpenBao's ldap engine account passwords (64 random letters and digits);
 * 356 — moto's STS session tokens (base64 of 266 random bytes).
 * Private keys are found by their shape, whatever their length.
 * The hygiene test holds every raw secret an audited OpenBao records against this list.
 */
export const SECRET_LENGTHS: readonly number[] = [20, 24, 26, 32, 36, 40, 64, 356];

/** Runs up to this long are also cut at every pair of separators (quadratic, hence the bound). */
export const SEPARATED_MAX = 512;
/** In a longer run joined across line breaks, the longest stretch from one break to another that is cut out. */
const BOUNDED_MAX = 4096;

export interface Hit {
  where: string;
  offset: number;
  /** `registered`: a secret the run registered, by its fingerprint; `private-key`: a private key, by its shape. */
  kind: 'registered' | 'private-key';
  /** The registered secret's fingerprint; for a private key no registered one matches, its base64 body's. */
  fingerprint: string;
}

export interface ScanStats {
  files: number;
  bytes: number;
  candidates: number;
  hits: Hit[];
}

/**
 * Characters that stand together in the text, possibly across line breaks: `text` joined, and
 * where each of its pieces lies in the scanned text.
 */
interface Joined {
  text: string;
  /** Offsets in `text` where a line break was taken out, ascending. */
  breaks: number[];
  /** Offset in `text` → offset in the scanned text. */
  at(i: number): number;
}

function single(run: string, offset: number): Joined {
  return { text: run, breaks: [], at: (i) => offset + i };
}

/** A wrapped stretch as lines (each with its offset in the scanned text), split where a short line ends it. */
function wrappedLines(stretch: string, offset: number): Joined[] {
  const lines: { text: string; at: number }[] = [];
  let from = 0;
  for (const m of stretch.matchAll(LINE_BREAK)) {
    lines.push({ text: stretch.slice(from, m.index), at: offset + from });
    from = m.index + m[0].length;
  }
  lines.push({ text: stretch.slice(from), at: offset + from });
  const joined: Joined[] = [];
  let group: typeof lines = [];
  const close = (): void => {
    if (group.length > 1) joined.push(joinLines(group));
    group = [];
  };
  for (const line of lines) {
    group.push(line);
    if (line.text.length < WRAP_MIN) close();
  }
  close();
  return joined;
}

function joinLines(lines: readonly { text: string; at: number }[]): Joined {
  const starts: number[] = [];
  let length = 0;
  for (const line of lines) {
    starts.push(length);
    length += line.text.length;
  }
  return {
    text: lines.map((l) => l.text).join(''),
    breaks: starts.slice(1),
    at(i) {
      let k = starts.length - 1;
      while (k > 0 && starts[k]! > i) k--;
      return lines[k]!.at + (i - starts[k]!);
    },
  };
}

/** Node's base64 decoder reads the URL-safe alphabet too. */
function base64Bytes(text: string): Buffer {
  return Buffer.from(text, 'base64');
}

/** Wrap base64 text at `width`, as PEM writers do. */
function wrap(body: string, width: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < body.length; i += width) lines.push(body.slice(i, i + width));
  return lines;
}

/** A DER private key starting at `p` in `text`: its PEM label and how many characters it spans. */
function derKey(text: string, p: number): { label: string; length: number } | undefined {
  const head = base64Bytes(text.slice(p, p + 8));
  if (head.length < 6 || head[0] !== 0x30) return undefined;
  const first = head[1]!;
  let header: number;
  let content: number;
  if (first < 0x80) [header, content] = [2, first];
  else if (first === 0x81) [header, content] = [3, head[2]!];
  else if (first === 0x82) [header, content] = [4, head[2]! * 256 + head[3]!];
  else return undefined;
  const total = header + content;
  if (total < DER_MIN || total > DER_MAX) return undefined;
  const chars = Math.ceil((total * 4) / 3);
  const encoded = text.slice(p, p + chars);
  if (encoded.length < chars || !/^(?:[A-Za-z0-9+/]+|[A-Za-z0-9_-]+)$/.test(encoded)) return undefined;
  const der = base64Bytes(encoded).subarray(0, total);
  if (der.length < total) return undefined;
  const padding = /^=*/.exec(text.slice(p + chars, p + chars + 2))![0].length;
  const length = chars + padding;
  // A private key's structure starts with its version, INTEGER 0 or 1 (PKCS#8, PKCS#1, SEC1);
  // a certificate or a public key starts with a SEQUENCE, or an INTEGER longer than one byte.
  if (der[header] === 0x02 && der[header + 1] === 0x01 && der[header + 2]! <= 1) {
    const types = [['pkcs8', 'PRIVATE KEY'], ['pkcs1', 'RSA PRIVATE KEY'], ['sec1', 'EC PRIVATE KEY']] as const;
    for (const [type, label] of types) {
      try {
        createPrivateKey({ key: der, format: 'der', type });
        return { label, length };
      } catch {
        // Not this encoding; try the next.
      }
    }
    return undefined;
  }
  // An encrypted PKCS#8 key cannot be parsed without its passphrase; its first field names the encryption.
  if (der[header] === 0x30) {
    const start = der.subarray(header, header + 24);
    if (PBE_OIDS.some((oid) => start.includes(oid))) return { label: 'ENCRYPTED PRIVATE KEY', length };
  }
  return undefined;
}

/** An OpenSSH private key starting at `p` in `text`: how many characters it spans (to the end of what decodes, when cut short). */
function opensshKey(text: string, p: number): { label: string; length: number } | undefined {
  const encoded = /^[A-Za-z0-9+/]+/.exec(text.slice(p))?.[0] ?? '';
  const bytes = Buffer.from(encoded, 'base64');
  if (!bytes.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) return undefined;
  // ciphername, kdfname, kdfoptions, the key count, each public key, then the private section.
  let o = OPENSSH_MAGIC.length;
  const skipString = (): void => {
    o = o + 4 <= bytes.length ? o + 4 + bytes.readUInt32BE(o) : Infinity;
  };
  skipString();
  skipString();
  skipString();
  const keys = o + 4 <= bytes.length ? bytes.readUInt32BE(o) : 0;
  o += 4;
  for (let k = 0; k <= keys && o <= bytes.length; k++) skipString();
  const chars = o <= bytes.length ? Math.ceil((o * 4) / 3) : encoded.length;
  const padding = /^=*/.exec(text.slice(p + chars, p + chars + 2))![0].length;
  return { label: 'OPENSSH PRIVATE KEY', length: chars + padding };
}

export class SecretScanner {
  readonly #fingerprints: ReadonlySet<string>;
  readonly #lengths: readonly number[];
  candidates = 0;

  constructor(fingerprints: Iterable<string>, lengths: readonly number[] = SECRET_LENGTHS) {
    this.#fingerprints = new Set(fingerprints);
    this.#lengths = lengths;
  }

  /** Every place in `text` where a registered secret or a private key stands. */
  scanText(text: string, where: string): Hit[] {
    const hits = new Map<string, Hit>();
    const found = (offset: number, kind: Hit['kind'], fp: string): void => {
      hits.set(`${offset}:${fp}`, { where, offset, kind, fingerprint: fp });
    };
    const runs: Joined[] = [];
    for (const match of text.matchAll(RUN)) {
      const run = single(match[0], match.index);
      runs.push(run);
      // A JSON-escaped line break leaves its `n` at the start of the next run.
      const escaped = match[0].startsWith('n') && text[match.index - 1] === '\\';
      this.#cut(run, escaped ? [1] : [], (offset, fp) => found(offset, 'registered', fp));
    }
    const wrapped: Joined[] = [];
    for (const match of text.matchAll(WRAPPED)) {
      const escaped = match[0].startsWith('n') && text[match.index - 1] === '\\' ? 1 : 0;
      wrapped.push(...wrappedLines(match[0].slice(escaped), match.index + escaped));
    }
    for (const joined of wrapped) this.#cut(joined, joined.breaks, (offset, fp) => found(offset, 'registered', fp));

    const blocks = this.#pemKeys(text, (offset, fp) => found(offset, 'private-key', fp));
    const inBlock = (offset: number): boolean => blocks.some(([from, to]) => offset >= from && offset < to);
    // A body is seen in each line's run and in the wrapped stretch: the longest reading of it is the key.
    const bare = new Map<number, { length: number; fp: string }>();
    for (const joined of [...runs, ...wrapped]) {
      for (const key of this.#bareKeys(joined)) {
        if (inBlock(key.offset) || (bare.get(key.offset)?.length ?? 0) >= key.length) continue;
        bare.set(key.offset, key);
      }
    }
    for (const [offset, key] of bare) found(offset, 'private-key', key.fp);
    return [...hits.values()].sort((a, b) => a.offset - b.offset);
  }

  /**
   * Candidates of one run, or of runs joined across breaks: then only those crossing a break.
   * `bounds` are extra places a secret may start or end (a break, an escape's leftover).
   */
  #cut(joined: Joined, bounds: readonly number[], hit: (offset: number, fp: string) => void): void {
    const { text: run, breaks } = joined;
    const crossing = breaks.length > 0;
    // The first break after each offset: a candidate [s, e) crosses one when it lies before e.
    const nextBreak: number[] = [];
    if (crossing) {
      let k = breaks.length - 1;
      for (let i = run.length; i >= 0; i--) {
        while (k >= 0 && breaks[k]! > i) k--;
        nextBreak[i] = breaks[k + 1] ?? Infinity;
      }
    }
    const check = (start: number, end: number): void => {
      if (crossing && !(nextBreak[start]! < end)) return;
      this.candidates++;
      const fp = fingerprint(run.slice(start, end));
      if (this.#fingerprints.has(fp)) hit(joined.at(start), fp);
    };
    check(0, run.length);
    for (const length of this.#lengths) {
      if (length >= run.length) continue;
      for (let i = 0; i + length <= run.length; i++) check(i, i + length);
    }
    if (run.length <= SEPARATED_MAX) {
      // Boundaries: the run's ends, both sides of every separator (a secret may start or end with one), and the extra ones.
      const all = new Set([0, run.length, ...bounds]);
      for (let i = 0; i < run.length; i++) {
        if (SEPARATORS.has(run[i]!)) {
          all.add(i);
          all.add(i + 1);
        }
      }
      const sorted = [...all].sort((a, b) => a - b);
      for (let s = 0; s < sorted.length; s++) {
        for (let e = s + 1; e < sorted.length; e++) {
          const start = sorted[s]!;
          const end = sorted[e]!;
          const length = end - start;
          // The whole run and the fixed lengths are checked above already.
          if (length < SHORTEST || length === run.length || this.#lengths.includes(length)) continue;
          check(start, end);
        }
      }
      return;
    }
    // A long run: the pieces between one separator character, then between another inside those.
    const seen = new Set<string>();
    const once = (start: number, end: number): void => {
      const key = `${start}:${end}`;
      if (end - start < SHORTEST || end - start === run.length || this.#lengths.includes(end - start) || seen.has(key)) return;
      seen.add(key);
      check(start, end);
    };
    const pieces = (from: number, to: number, split: string): [number, number][] => {
      const out: [number, number][] = [];
      let start = from;
      for (let i = from; i <= to; i++) {
        if (i === to || run[i] === split) {
          out.push([start, i]);
          start = i + 1;
        }
      }
      return out.length > 1 ? out : [];
    };
    for (const first of SEPARATORS) {
      for (const [s, e] of pieces(0, run.length, first)) {
        once(s, e);
        for (const second of SEPARATORS) if (second !== first) for (const [start, end] of pieces(s, e, second)) once(start, end);
      }
    }
    // And between the extra boundaries (whole lines of a wrapped secret), up to a bound, and from each to the end.
    const edges = [0, ...bounds, run.length];
    for (let s = 0; s < edges.length; s++) {
      for (let e = s + 1; e < edges.length && edges[e]! - edges[s]! <= BOUNDED_MAX; e++) once(edges[s]!, edges[e]!);
      once(edges[s]!, run.length);
    }
  }

  /** PEM private key blocks, by their header and a body after it; returns where each lies. */
  #pemKeys(text: string, hit: (offset: number, fp: string) => void): [number, number][] {
    const blocks: [number, number][] = [];
    for (const match of text.matchAll(PEM_PRIVATE)) {
      const words = (match[1] ?? '').split(new RegExp(`${GAP}+`)).filter(Boolean);
      const label = [...words, 'PRIVATE', 'KEY'].join(' ');
      let o = match.index + match[0].length;
      PEM_HEADERS.lastIndex = o;
      const headers = PEM_HEADERS.exec(text);
      const legacy = headers !== null && headers[0].includes(':');
      if (headers) o += headers[0].length;
      const lines: string[] = [];
      let line = '';
      for (;;) {
        PEM_BODY.lastIndex = o;
        const m = PEM_BODY.exec(text);
        if (!m) break;
        o += m[0].length;
        if (m[2] !== undefined) line += m[2];
        else if (line) {
          lines.push(line);
          line = '';
        }
      }
      if (line) lines.push(line);
      const body = lines.join('');
      if (body.length < PEM_BODY_MIN) continue;
      blocks.push([match.index, o]);
      this.candidates++;
      hit(match.index, legacy ? fingerprint(body) : this.#keyFingerprint(label, lines));
    }
    return blocks;
  }

  /** Key bodies without their PEM header, anywhere in a run or a wrapped stretch: where each starts, its length in the text, its fingerprint. */
  #bareKeys(joined: Joined): { offset: number; length: number; fp: string }[] {
    const keys: { offset: number; length: number; fp: string }[] = [];
    // A key's body holds other structures (PKCS#8 wraps a PKCS#1 or SEC1 key): only the outermost counts.
    let inside = 0;
    for (const m of joined.text.matchAll(KEY_START)) {
      const p = m.index;
      if (p < inside) continue;
      this.candidates++;
      const key = m[1]!.startsWith('M') ? derKey(joined.text, p) : opensshKey(joined.text, p);
      if (!key) continue;
      const end = p + key.length;
      inside = end;
      // The lines as they were broken: cut the body at the breaks that fall inside it.
      const cuts = [p, ...joined.breaks.filter((b) => b > p && b < end), end];
      const lines = cuts.slice(1).map((to, i) => joined.text.slice(cuts[i], to));
      keys.push({ offset: joined.at(p), length: joined.at(end - 1) + 1 - joined.at(p), fp: this.#keyFingerprint(key.label, lines) });
    }
    return keys;
  }

  /** The registered fingerprint of the key, its PEM rebuilt as writers wrap it; else its body's. */
  #keyFingerprint(label: string, lines: readonly string[]): string {
    const body = lines.join('');
    for (const wrapped of [lines, wrap(body, 64), wrap(body, 70)]) {
      const pem = `-----BEGIN ${label}-----\n${wrapped.join('\n')}\n-----END ${label}-----`;
      for (const candidate of [`${pem}\n`, pem]) {
        const fp = fingerprint(candidate);
        if (this.#fingerprints.has(fp)) return fp;
      }
    }
    return fingerprint(body);
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

// ---------------------------------------------------------------------------------------------
// What the scan must find, for the tests that prove it can: secrets of every shape jitc handles,
// made at run time the way their sources make them (no secret-shaped text in a source file), and
// the places in written text where one could sit.

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const ALNUM = BASE64.slice(0, 62);
const pick = (alphabet: string, n: number): string => [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join('');

/** One-line secrets in every shape the adapters, the targets and a broker make, each made the way they make it. */
export function oneLineSecrets(): Record<string, string> {
  // OpenBao's default generator: 20 of letters, digits and `-`, at least one of each.
  const database = [...pick(`${ALNUM}-`, 20)];
  database[randomBytes(1)[0]! % 20] = '-';
  const jwtPart = (bytes: number): string => randomBytes(bytes).toString('base64url');
  return {
    'LDAP account password': newPassword(),
    'LDAP protected value': randomBytes(12).toString('hex'),
    'local OpenBao root token': randomBytes(18).toString('base64url'),
    'OpenBao token': `s.${pick(ALNUM, 24)}`,
    'Vault task secret': randomBytes(16).toString('hex'),
    'AppRole secret_id': randomUUID(),
    'AWS secret access key': pick(BASE64, 40),
    'moto session token': randomBytes(266).toString('base64'),
    'OpenBao database engine password': database.join(''),
    'OpenBao ldap engine account password': pick(ALNUM, 64),
    'broker bearer token (JWT-like, 3 parts)': `${jwtPart(27)}.${jwtPart(180)}.${jwtPart(32)}`,
    'broker bearer token longer than the separated bound': `${jwtPart(27)}.${jwtPart(600)}.${jwtPart(256)}`,
  };
}

/** Where a one-line leak could sit: alone, after a key, in a header, in a path, glued into other text, wrapped; `at` is where the scan must report it. */
export const ONE_LINE_PLACES: Record<string, (secret: string) => { text: string; at: number }> = {
  'a JSON string': (s) => ({ text: `"detail": "${s}", `, at: 11 }),
  'a query parameter': (s) => ({ text: ` GET /v1/sys?token=${s}&x=1 `, at: 19 }),
  'a header': (s) => ({ text: `\nX-Vault-Token: ${s}\n`, at: 16 }),
  'a URL path': (s) => ({ text: ` /v1/auth/token/lookup/${s}/self `, at: 23 }),
  'glued between letters': (s) => ({ text: ` ASIA${s}Zq9 `, at: 5 }),
  'wrapped at 76 columns': (s) => ({ text: `token:\n${wrap(s, 76).join('\n')}\n`, at: 7 }),
  'wrapped in a JSON string': (s) => ({ text: `"token": ${JSON.stringify(wrap(s, 64).join('\n'))},`, at: 10 }),
  'wrapped in an XML attribute': (s) => ({ text: `<property value="${wrap(s, 64).join('&#10;')}"/>`, at: 17 }),
};

/** Where a secret of a length no list names cannot be told apart from its neighbours. */
export const UNSEPARATED_PLACES = new Set(['glued between letters']);

/** An OpenSSH private key (openssh-key-v1, unencrypted) for an Ed25519 key node:crypto made, as ssh-keygen writes it. */
/**
 * A PEM armour line, put together at run time: the sources hold no text shaped like the start or
 * the end of a private key.
 */
export function armour(edge: 'BEGIN' | 'END', label: string): string {
  const dashes = '-'.repeat(5);
  return `${dashes}${edge} ${label}${dashes}`;
}

export function opensshPrivateKey(key: KeyObject, comment = 'jitc-test'): string {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.d || !jwk.x) throw new Error('an Ed25519 private key is needed');
  const seed = Buffer.from(jwk.d, 'base64url');
  const pub = Buffer.from(jwk.x, 'base64url');
  const str = (b: Buffer | string): Buffer => {
    const bytes = typeof b === 'string' ? Buffer.from(b) : b;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const publicBlob = Buffer.concat([str('ssh-ed25519'), str(pub)]);
  const check = randomBytes(4);
  let secret = Buffer.concat([check, check, str('ssh-ed25519'), str(pub), str(Buffer.concat([seed, pub])), str(comment)]);
  const pad: number[] = [];
  for (let i = 1; (secret.length + pad.length) % 8 !== 0; i++) pad.push(i);
  secret = Buffer.concat([secret, Buffer.from(pad)]);
  const blob = Buffer.concat([OPENSSH_MAGIC, str('none'), str('none'), str(''), u32(1), str(publicBlob), str(secret)]);
  const label = ['OPENSSH', 'PRIVATE', 'KEY'].join(' ');
  return `${armour('BEGIN', label)}\n${wrap(blob.toString('base64'), 70).join('\n')}\n${armour('END', label)}\n`;
}

/**
 * Private keys in every shape jitc handles, made by node:crypto: a TLS client key (PKCS#8, SEC1
 * and PKCS#1 as OpenBao's pki engine and openssl write them, one without its last newline as
 * OpenBao returns it), an encrypted PKCS#8 key, and an SSH key in OpenSSH's own format.
 */
export function privateKeys(): Record<string, string> {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ed25519 = generateKeyPairSync('ed25519').privateKey;
  const passphrase = randomBytes(12).toString('hex');
  const pem = (key: KeyObject, type: 'pkcs8' | 'pkcs1' | 'sec1'): string => key.export({ type, format: 'pem' }) as string;
  return {
    'EC key, PKCS#8 (BEGIN PRIVATE KEY)': pem(ec, 'pkcs8'),
    'EC key, SEC1 (BEGIN EC PRIVATE KEY), no last newline': pem(ec, 'sec1').trimEnd(),
    'RSA key, PKCS#1 (BEGIN RSA PRIVATE KEY)': pem(rsa, 'pkcs1'),
    'Ed25519 key, PKCS#8': pem(ed25519, 'pkcs8'),
    'encrypted PKCS#8 key (BEGIN ENCRYPTED PRIVATE KEY)': ed25519.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string,
    'SSH key, OpenSSH format (BEGIN OPENSSH PRIVATE KEY)': opensshPrivateKey(ed25519),
  };
}

/** The base64 body of a PEM block: its lines between the BEGIN and END lines. */
export function pemBody(pem: string): string[] {
  return pem.trimEnd().split('\n').slice(1, -1);
}

/** Where a private key could sit in written text; `at` is where the scan must report it. */
export const KEY_PLACES: Record<string, (pem: string) => { text: string; at: number }> = {
  "a file's lines": (k) => ({ text: `${k}\n`, at: 0 }),
  'a log line': (k) => ({ text: `key loaded: ${k}\n`, at: 12 }),
  'a JSON string': (k) => ({ text: `"detail": ${JSON.stringify(k)}, `, at: 11 }),
  'a JSON string inside a JSON string': (k) => ({ text: `"data": ${JSON.stringify(JSON.stringify(k))}, `, at: 11 }),
  'an XML attribute': (k) => ({ text: `<failure message="${k.replace(/\n/g, '&#10;')}"/>\n`, at: 18 }),
  'one line, blanks for its line breaks': (k) => ({ text: `PRIVATE_KEY=${k.trimEnd().replace(/\n/g, ' ')}\n`, at: 12 }),
  'its header line broken': (k) => ({ text: `${k.replace(' ', '\n  ')}\n`, at: 0 }),
  'its body alone, wrapped': (k) => ({ text: `${pemBody(k).join('\n')}\n`, at: 0 }),
  'its body alone, indented': (k) => ({ text: `key:\n${pemBody(k).map((l) => `    ${l}`).join('\n')}\n`, at: 9 }),
  'its body alone, in a JSON string': (k) => ({ text: `[${JSON.stringify(pemBody(k).join('\n'))}]`, at: 2 }),
  'its body alone on one line, glued after a key': (k) => ({ text: ` privateKey=${pemBody(k).join('')}&x=1 `, at: 12 }),
};

/** Places where a key's body must be decoded to be found, which an encrypted body (RFC 1421 headers) cannot be. */
export const BODY_ONLY_PLACES = new Set(Object.keys(KEY_PLACES).filter((p) => p.startsWith('its body')));
