/**
 * No secret a run handles reaches anything it writes. A full run of every suite (Vault, AWS, LDAP)
 * on the local targets, HTML report included, lists in each result the fingerprints of the secrets
 * it held back; every file under its output directory, its history file, its stdout and its stderr
 * are cut into every string a secret could be, and none has one of those fingerprints. The scan is
 * shown to find a leak planted in a copy of the outputs, for every shape of secret the adapters
 * make. Against an external OpenBao whose own audit log lists the raw values it issued, every one of
 * them is among the fingerprints jitc reported (so the fingerprint scan is not blind to any), and
 * neither the raw values nor their fingerprints' secrets appear anywhere.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { newPassword } from '../../adapters/ldap/passwords.ts';
import { readEvidence } from '../../reports/outputs/artifacts.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { fingerprint } from '../../scenarios/secrets.ts';
import { startAuditedBao, type AuditedBao } from '../support/audited-bao.ts';
import { jitcAsync, type CliResult } from '../support/cli.ts';
import { filesUnder, SECRET_LENGTHS, SecretScanner, type Hit } from '../support/secret-scan.ts';

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

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const ALNUM = BASE64.slice(0, 62);
const pick = (alphabet: string, n: number): string => [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join('');

/** Fresh secrets in every shape the adapters and targets make, each made the way they make it. */
function secretsOfEveryShape(): Record<string, string> {
  return {
    'LDAP account password': newPassword(),
    'LDAP protected value': randomBytes(12).toString('hex'),
    'local OpenBao root token': randomBytes(18).toString('base64url'),
    'OpenBao token': `s.${pick(ALNUM, 24)}`,
    'Vault task secret': randomBytes(16).toString('hex'),
    'AppRole secret_id': randomUUID(),
    'AWS secret access key': pick(BASE64, 40),
    'moto session token': randomBytes(266).toString('base64'),
  };
}

/** Where a leak could sit: alone, after a key, in a header, in a path, and glued into other text. */
const CONTEXTS: Record<string, (secret: string) => string> = {
  'a JSON string': (s) => `"detail": "${s}", `,
  'a query parameter': (s) => ` GET /v1/sys?token=${s}&x=1 `,
  'a header': (s) => `\nX-Vault-Token: ${s}\n`,
  'a URL path': (s) => ` /v1/auth/token/lookup/${s}/self `,
  'glued between letters': (s) => ` ASIA${s}Zq9 `,
};

/** Plant `snippet` into a copy of `text`, at a line start near the middle; returns the copy and the secret's offset. */
/** About 16 KB of whole lines around the middle of `text` (all of it when shorter). */
function middleLines(text: string, half = 8192): string {
  const middle = Math.floor(text.length / 2);
  const from = middle - half <= 0 ? 0 : text.lastIndexOf('\n', middle - half) + 1;
  const to = middle + half >= text.length ? -1 : text.indexOf('\n', middle + half);
  return text.slice(from, to === -1 ? text.length : to + 1);
}

function plant(text: string, snippet: string, secret: string): { copy: string; offset: number } {
  const at = text.indexOf('\n', Math.floor(text.length / 2)) + 1;
  return { copy: `${text.slice(0, at)}${snippet}${text.slice(at)}`, offset: at + snippet.indexOf(secret) };
}

describe('a full run of every suite on the local targets, with the HTML report', () => {
  let run: FinishedRun;
  beforeAll(async () => {
    run = await runToEnd('local', []);
  }, 240_000);

  test('runs every suite to a result and lists, per result, the fingerprints of the secrets it held back', () => {
    expect(run.result.code, run.result.stdout + run.result.stderr).toBe(0);
    expect(new Set(run.results.map((r) => r.adapter))).toEqual(new Set(['vault', 'aws', 'ldap', 'postgres', 'ssh']));
    expect(run.results.length).toBeGreaterThanOrEqual(20);
    // At least the target's admin credential and one credential the scenario issued or used.
    for (const r of run.results) expect(r.secretFingerprints.length, `${r.adapter}/${r.id}`).toBeGreaterThanOrEqual(2);
  });

  test('no file it wrote, nor its history, stdout or stderr, holds any of those secrets', () => {
    const scanner = new SecretScanner(run.fingerprints);
    const scan = scanRun(run, scanner);
    expect(filesUnder(join(run.out, 'html')).length).toBeGreaterThan(20);
    expect(scan.hits).toEqual([]);
    console.info(
      `secret hygiene, local run: ${run.fingerprints.size} secrets (fingerprints) of ${run.results.length} scenarios; ` +
        `${scan.files - 1} files under the output directory + the history file + stdout + stderr, ${(scan.bytes / 1e6).toFixed(1)} MB, ${scan.candidates} candidates fingerprinted, ${scan.hits.length} hits`,
    );
    // Millions of candidates are fingerprinted: seconds on a quiet machine, much longer on a loaded one.
  }, 180_000);

  test('the scan finds a secret of every shape the adapters make, planted anywhere in a copy of the outputs', () => {
    const planted = secretsOfEveryShape();
    // Fingerprints of a length no list names: found only where separators or whitespace delimit it.
    const unlisted = randomBytes(45).toString('base64url');
    const scanner = new SecretScanner([...run.fingerprints, ...Object.values(planted).map(fingerprint), fingerprint(unlisted)]);
    // The lines around the middle of each output, where the secret is planted: the scan of a copy
    // then costs the same whatever the size of the run, and a loaded machine does not time it out.
    const originals = ['summary.json', 'junit.xml', 'summary.md', ...filesUnder(join(run.out, 'html', 'data')).slice(0, 3)].map((f) =>
      middleLines(readFileSync(f.startsWith('/') ? f : join(run.out, f), 'latin1')),
    );
    let tried = 0;
    for (const [i, text] of originals.entries()) {
      for (const [shape, secret] of [...Object.entries(planted), ['a secret of an unlisted length', unlisted] as const]) {
        for (const [where, context] of Object.entries(CONTEXTS)) {
          if (secret === unlisted && where === 'glued between letters') continue;
          const { copy, offset } = plant(text, context(secret), secret);
          const hits = scanner.scanText(copy, `copy ${i}`);
          expect(hits, `${shape} in ${where}`).toEqual([{ where: `copy ${i}`, offset, fingerprint: fingerprint(secret) }]);
          tried++;
        }
      }
    }
    expect(tried).toBe(originals.length * (Object.keys(planted).length * 5 + 4));
  });
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
  }, 180_000);

  test('a real token the target issued, planted in a copy of an output, is found by its fingerprint alone', () => {
    const scanner = new SecretScanner(run.fingerprints);
    const text = readFileSync(join(run.out, 'summary.json'), 'latin1');
    for (const secret of issued) {
      for (const [where, context] of Object.entries(CONTEXTS)) {
        const { copy, offset } = plant(text, context(secret), secret);
        expect(scanner.scanText(copy, 'copy'), `${fingerprint(secret)} in ${where}`).toEqual([{ where: 'copy', offset, fingerprint: fingerprint(secret) }]);
      }
    }
  });
});
