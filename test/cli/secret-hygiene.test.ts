/**
 * No secret a run handles reaches anything it writes. A full run of every suite with built-in
 * scenarios (Vault, AWS, LDAP, PostgreSQL, SSH…) on the local targets, HTML report included,
 * lists in each result the fingerprints of the secrets it held back — among them the passwords
 * OpenBao's database and ldap engines issue and the private keys of SSH and TLS client
 * certificates; every file under its output directory, its history file, its stdout and its
 * stderr are cut into every string a secret could be, and none has one of those fingerprints,
 * and none holds a private key of any kind, registered or not. The scan is shown to find a leak
 * planted in a copy of the outputs, for every shape of secret the adapters make and every
 * private key shape. Against an external OpenBao whose own audit log lists the raw values it
 * issued, every one of them is among the fingerprints jitc reported (so the fingerprint scan is
 * not blind to any), and neither the raw values nor their fingerprints' secrets appear anywhere.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readEvidence } from '../../reports/outputs/artifacts.ts';
import { BUILTIN_DIR } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { fingerprint } from '../../scenarios/secrets.ts';
import { startAuditedBao, type AuditedBao } from '../support/audited-bao.ts';
import { jitcAsync, type CliResult } from '../support/cli.ts';
import {
  filesUnder,
  KEY_PLACES,
  ONE_LINE_PLACES,
  oneLineSecrets,
  privateKeys,
  SECRET_LENGTHS,
  SecretScanner,
  UNSEPARATED_PLACES,
  type Hit,
} from '../support/secret-scan.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-hygiene-'));

interface FinishedRun {
  out: string;
  history: string;
  result: CliResult;
  results: ScenarioResult[];
  fingerprints: Set<string>;
}

async function runToEnd(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<FinishedRun> {
  const out = join(scratch, name);
  const history = join(scratch, `${name}.sqlite`);
  const result = await jitcAsync(['run', ...args, '--html', '--out', out, '--history', history], env).done;
  const results = readEvidence(out);
  return { out, history, result, results, fingerprints: new Set(results.flatMap((r) => r.secretFingerprints)) };
}

/** Scan everything the run wrote or printed; returns the hits and what was scanned. */
function scanRun(run: FinishedRun, scanner: SecretScanner): { hits: Hit[]; files: number; bytes: number; candidates: number } {
  const dir = scanner.scanDir(run.out);
  const before = scanner.candidates;
  const history = readFileSync(run.history, 'latin1');
  const hits = [
    ...dir.hits,
    ...scanner.scanText(history, run.history),
    ...scanner.scanText(run.result.stdout, 'stdout'),
    ...scanner.scanText(run.result.stderr, 'stderr'),
  ];
  const bytes = dir.bytes + history.length + run.result.stdout.length + run.result.stderr.length;
  return { hits, files: dir.files + 1, bytes, candidates: dir.candidates + scanner.candidates - before };
}

/**
 * About 16 KB of whole lines around the middle of `text` (all of it when shorter; a plain window
 * when its lines are longer than that).
 */
function middleLines(text: string, half = 8192): string {
  const middle = Math.floor(text.length / 2);
  const from = middle - half <= 0 ? 0 : text.lastIndexOf('\n', middle - half) + 1;
  const to = middle + half >= text.length ? -1 : text.indexOf('\n', middle + half);
  const lines = text.slice(from, to === -1 ? text.length : to + 1);
  return lines.length <= 8 * half ? lines : text.slice(Math.max(0, middle - half), middle + half);
}

/** A snippet to plant, and where in it the scan must report what it holds. */
interface Planted {
  text: string;
  at: number;
}

/** Plant each snippet at a line start of its own, spread through a copy of `text`; returns the copy and where each must be found. */
function plantAll(text: string, snippets: readonly Planted[]): { copy: string; offsets: number[] } {
  const starts = [0, ...[...text.matchAll(/\n/g)].map((m) => m.index + 1).filter((i) => i < text.length)];
  let copy = '';
  let from = 0;
  const offsets: number[] = [];
  snippets.forEach((snippet, i) => {
    const at = starts[Math.floor(((i + 1) * starts.length) / (snippets.length + 1))]!;
    copy += text.slice(from, at);
    offsets.push(copy.length + snippet.at);
    copy += snippet.text;
    from = at;
  });
  return { copy: copy + text.slice(from), offsets };
}

/** The scenarios whose grants carry the newer secret shapes: OpenBao's database and ldap engine passwords, SSH and TLS client private keys. */
const SHAPED = {
  'db-lease-expiry': 'database',
  'db-lease-revoke': 'database',
  'pki-cert-revoke': 'pki-certificate',
  'ssh-cert-expiry': 'ssh-certificate',
  'ldap-dynamic-role': 'ldap-dynamic-role',
} as const;

describe('a full run of every suite on the local targets, with the HTML report', () => {
  let run: FinishedRun;
  beforeAll(async () => {
    run = await runToEnd('local', []);
  }, 240_000);

  test('runs every suite to a result and lists, per result, the fingerprints of the secrets it held back', () => {
    // No scenario fails. On a loaded machine the harness's own lag may leave a check inconclusive
    // (exit 2); what the run wrote about its secrets is the same, and is what this file judges.
    expect([0, 2], run.result.stdout + run.result.stderr).toContain(run.result.code);
    expect(run.results.filter((r) => r.verdict === 'fail').map((r) => r.id)).toEqual([]);
    // Every suite with built-in scenarios ran.
    expect(new Set(run.results.map((r) => r.adapter)), run.result.stdout + run.result.stderr).toEqual(new Set(readdirSync(BUILTIN_DIR)));
    expect(run.results.length).toBeGreaterThanOrEqual(20);
    // At least the target's admin credential and one credential the scenario issued or used.
    for (const r of run.results) expect(r.secretFingerprints.length, `${r.adapter}/${r.id}`).toBeGreaterThanOrEqual(2);
  });

  test('among them, runs whose grants were database and ldap engine passwords, an SSH certificate and a TLS client certificate with their keys', () => {
    for (const [id, source] of Object.entries(SHAPED)) {
      const result = run.results.find((r) => r.id === id);
      expect(result, id).toBeDefined();
      expect(result!.grant, id).toEqual({ adapter: 'vault', source });
      // The grant was issued: its secret was in the run's hands, and registered.
      expect(result!.issued, `${id} issued its grant`).not.toBeNull();
      expect(result!.secretFingerprints.length, id).toBeGreaterThanOrEqual(3);
    }
  });

  test('no file it wrote, nor its history, stdout or stderr, holds any of those secrets, nor any private key', () => {
    const scanner = new SecretScanner(run.fingerprints);
    const scan = scanRun(run, scanner);
    expect(filesUnder(join(run.out, 'html')).length).toBeGreaterThan(20);
    expect(scan.hits).toEqual([]);
    console.info(
      `secret hygiene, local run: ${run.fingerprints.size} secrets (fingerprints) of ${run.results.length} scenarios; ` +
        `${scan.files - 1} files under the output directory + the history file + stdout + stderr, ${(scan.bytes / 1e6).toFixed(1)} MB, ${scan.candidates} candidates fingerprinted, ${scan.hits.length} hits`,
    );
    // Millions of candidates are fingerprinted: seconds on a quiet machine, much longer on a loaded one.
  }, 300_000);

  test('the scan finds a secret of every shape the adapters make, and a private key of every shape, planted anywhere in a copy of the outputs', () => {
    const secrets = oneLineSecrets();
    // A length no list names: found only where separators or whitespace delimit it.
    secrets['a secret of an unlisted length'] = randomBytes(45).toString('base64url');
    const keys = privateKeys();
    const scanner = new SecretScanner([...run.fingerprints, ...[...Object.values(secrets), ...Object.values(keys)].map(fingerprint)]);
    // The lines around the middle of each output, where the secrets are planted: the scan of a copy
    // then costs the same whatever the size of the run, and a loaded machine does not time it out.
    const originals = ['summary.json', 'junit.xml', 'summary.md', ...filesUnder(join(run.out, 'html', 'data')).slice(0, 3)].map((f) =>
      middleLines(readFileSync(f.startsWith('/') ? f : join(run.out, f), 'latin1')),
    );
    let tried = 0;
    for (const [i, text] of originals.entries()) {
      const places: [string, [string, string, Planted][]][] = [
        ...Object.entries(ONE_LINE_PLACES).map(([where, put]): [string, [string, string, Planted][]] => [
          where,
          Object.entries(secrets)
            .filter(([, s]) => !UNSEPARATED_PLACES.has(where) || SECRET_LENGTHS.includes(s.length))
            .map(([shape, s]) => [shape, s, put(s)]),
        ]),
        ...Object.entries(KEY_PLACES).map(([where, put]): [string, [string, string, Planted][]] => [where, Object.entries(keys).map(([shape, k]) => [shape, k, put(k)])]),
      ];
      for (const [where, planted] of places) {
        const { copy, offsets } = plantAll(text, planted.map(([, , p]) => p));
        const hits = scanner.scanText(copy, `copy ${i}`);
        const expected = planted.map(([shape, secret], k) => ({ shape, offset: offsets[k], fingerprint: fingerprint(secret) }));
        expect(hits.map((h) => ({ shape: expected.find((e) => e.fingerprint === h.fingerprint)?.shape, offset: h.offset, fingerprint: h.fingerprint })), `in ${where}`).toEqual(expected);
        tried += planted.length;
      }
    }
    const unlisted = Object.values(secrets).filter((s) => !SECRET_LENGTHS.includes(s.length)).length;
    const oneLine = Object.keys(ONE_LINE_PLACES).length * Object.keys(secrets).length - unlisted * UNSEPARATED_PLACES.size;
    expect(tried).toBe(originals.length * (oneLine + Object.keys(KEY_PLACES).length * Object.keys(keys).length));
  }, 300_000);
});

describe('a Vault run against an external OpenBao whose audit log records every secret it issued', () => {
  let bao: AuditedBao;
  let run: FinishedRun;
  let issued: string[];
  beforeAll(async () => {
    bao = await startAuditedBao();
    run = await runToEnd('external-vault', ['--suite', 'vault', '--target', 'external'], { VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken, BAO_ADDR: '', BAO_TOKEN: '' });
    issued = bao.issuedSecrets();
  }, 240_000);
  afterAll(async () => {
    await bao?.stop();
  });

  test('every secret the target issued is among the fingerprints jitc reported, in a length the scan cuts out', () => {
    expect(run.result.code, run.result.stdout + run.result.stderr).toBe(0);
    // The root token, and per scenario at least a requester and a JIT credential.
    expect(issued.length).toBeGreaterThan(14);
    for (const secret of issued) {
      expect(run.fingerprints.has(fingerprint(secret)), `${fingerprint(secret)} (${secret.length} characters) reported`).toBe(true);
      expect(SECRET_LENGTHS, `a ${secret.length}-character secret`).toContain(secret.length);
    }
  });

  test('neither the raw values nor any fingerprinted secret appear in any file, the history, stdout or stderr', () => {
    const scanner = new SecretScanner(run.fingerprints);
    const scan = scanRun(run, scanner);
    expect(scan.hits).toEqual([]);
    const texts = [...filesUnder(run.out), run.history].map((f) => [f, readFileSync(f, 'latin1')] as const);
    texts.push(['stdout', run.result.stdout], ['stderr', run.result.stderr]);
    const raw = texts.flatMap(([where, text]) => issued.filter((s) => text.includes(s)).map((s) => `${where}: ${fingerprint(s)}`));
    expect(raw).toEqual([]);
    console.info(
      `secret hygiene, external OpenBao: ${run.fingerprints.size} secrets (fingerprints), ${issued.length} raw values from the audit log; ` +
        `${scan.files - 1} files under the output directory + the history file + stdout + stderr, ${(scan.bytes / 1e6).toFixed(1)} MB, ${scan.candidates} candidates fingerprinted, ${scan.hits.length} hits`,
    );
    // Millions of candidates are fingerprinted: seconds on a quiet machine, much longer on a loaded one.
  }, 300_000);

  test('a real token the target issued, planted in a copy of an output, is found by its fingerprint alone', () => {
    const scanner = new SecretScanner(run.fingerprints);
    const text = readFileSync(join(run.out, 'summary.json'), 'latin1');
    for (const [where, put] of Object.entries(ONE_LINE_PLACES)) {
      const { copy, offsets } = plantAll(text, issued.map(put));
      const expected = issued.map((secret, k) => ({ where: 'copy', offset: offsets[k]!, kind: 'registered', fingerprint: fingerprint(secret) }));
      expect(scanner.scanText(copy, 'copy'), `in ${where}`).toEqual(expected);
    }
  });
});
