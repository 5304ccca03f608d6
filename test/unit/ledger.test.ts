/**
 * The seal of a run's output dir: the hash-chained event log, the manifest and its signature.
 * Every kind of tampering is reported as a problem that names the record or file it touched.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeRunReports } from '../../reports/outputs/artifacts.ts';
import { checkEventLog } from '../../reports/ledger/event-log-check.ts';
import { canonicalJson, entriesOf, EventLog, GENESIS, recordHash, sha256Hex, type EventRecord } from '../../reports/ledger/event-log.ts';
import { sealRun, verifyRun, type Problem } from '../../reports/ledger/ledger.ts';
import { manifestDigest, renderManifest, type Manifest } from '../../reports/ledger/manifest.ts';
import type { EvidenceEvent } from '../../scenarios/evidence.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { checkResult, fakeResult } from '../support/fake-adapter.ts';
import { InputError } from '../../scenarios/input.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-ledger-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The evidence events of one lifecycle, as the engine records them. */
function lifecycle(scenario: string, t0: number, reuseAttempts: number): EvidenceEvent[] {
  const at = (ms: number): string => new Date(t0 + ms).toISOString();
  return [
    { at: at(0), phase: 'request', event: 'grant requested', data: { taskId: `r1/${scenario}`, approver: 'change-approval' } },
    { at: at(5), phase: 'request', event: 'grant issued', data: { credentialId: 'accessor-abc', ttlGrantedSeconds: 3 } },
    { at: at(40), phase: 'use', event: 'first use of the grant: allowed', data: { outcome: 'allowed' } },
    { at: at(3000), phase: 'end', event: 'grant expired at its TTL' },
    ...Array.from({ length: reuseAttempts }, (_, i): EvidenceEvent => ({ at: at(3100 + i * 50), phase: 'reuse', event: `reuse attempt ${i + 1}: ${i + 1 === reuseAttempts ? 'denied' : 'allowed'}`, data: { msAfterEnd: 100 + i * 50 } })),
    { at: at(3400), phase: 'residue', event: 'entitlements snapshot after the task', data: { residue: [] } },
    { at: at(3500), phase: 'teardown', event: 'harness removed what it created', data: { removed: ['policy jitc-r1-read'] } },
  ];
}

function results(): ScenarioResult[] {
  const t0 = Date.parse('2026-01-01T00:00:00.000Z');
  return [
    fakeResult({ id: 'token-ttl-expiry', evidence: lifecycle('token-ttl-expiry', t0, 3) }),
    fakeResult({ id: 'child-token-cascade', evidence: lifecycle('child-token-cascade', t0 + 10, 1), checks: [checkResult('derived-credentials-denied', 'fail', 'child token still allowed')] }),
    fakeResult({ adapter: 'aws', id: 'sts-assume-role-expiry', evidence: lifecycle('sts-assume-role-expiry', t0 + 20, 2) }),
  ];
}

/** A run dir as `jitc run` leaves it: evidence files, the reports written from them, html, allure-results. */
function makeRunDir(dir: string, rs: ScenarioResult[] = results()): string {
  mkdirSync(join(dir, 'evidence'), { recursive: true });
  for (const r of rs) writeFileSync(join(dir, 'evidence', `${r.adapter}.${r.id}.json`), JSON.stringify(r, null, 2));
  writeRunReports(dir, rs, { runId: 'r1', startedAt: '2026-01-01T00:00:00.000Z', waivers: [], gate: [], doubtful: false });
  mkdirSync(join(dir, 'html', 'data'), { recursive: true });
  writeFileSync(join(dir, 'html', 'index.html'), '<html>report</html>');
  writeFileSync(join(dir, 'html', 'data', 'widget.json'), '{}');
  mkdirSync(join(dir, 'allure-results'));
  writeFileSync(join(dir, 'allure-results', 'a-result.json'), '{"name":"x"}');
  return dir;
}

const ed25519 = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const keys = join(scratch, 'keys');
function pem(name: string, pair: ReturnType<typeof generateKeyPairSync>): { priv: string; pub: string } {
  const priv = join(keys, `${name}.pem`);
  const pub = join(keys, `${name}.pub.pem`);
  writeFileSync(priv, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  writeFileSync(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  return { priv, pub };
}

let signedKey: { priv: string; pub: string };
let otherKey: { priv: string; pub: string };
let sealed: string;
let n = 0;

beforeAll(() => {
  mkdirSync(keys);
  signedKey = pem('signer', ed25519);
  otherKey = pem('other', other);
  sealed = makeRunDir(join(scratch, 'sealed'));
  sealRun(sealed, { signKey: signedKey.priv });
});

/** A fresh copy of the sealed run for one tampering case. */
function copy(): string {
  const dir = join(scratch, `case-${n++}`);
  cpSync(sealed, dir, { recursive: true });
  return dir;
}

function lines(dir: string): string[] {
  return readFileSync(join(dir, 'events.jsonl'), 'utf8').trimEnd().split('\n');
}

function writeLines(dir: string, ls: string[]): void {
  writeFileSync(join(dir, 'events.jsonl'), `${ls.join('\n')}\n`);
}

function rec(line: string): EventRecord {
  return JSON.parse(line) as EventRecord;
}

function manifestOf(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
}

function problemsOf(dir: string, key?: string): string[] {
  return verifyRun(dir, { key }).problems.map((p: Problem) => `${p.subject}: ${p.problem}`);
}

describe('the event log', () => {
  test('has one record per evidence event, scenarios by adapter then id, chained from the genesis value', () => {
    const records = lines(sealed).map(rec);
    const rs = results();
    expect(records).toHaveLength(rs.reduce((sum, r) => sum + r.evidence.length, 0));
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i));
    expect(records[0]!.scenario).toBe('aws/sts-assume-role-expiry');
    expect(records.at(-1)!.scenario).toBe('vault/token-ttl-expiry');
    expect(records[0]!.prev).toBe(GENESIS);
    for (let i = 1; i < records.length; i++) expect(records[i]!.prev).toBe(records[i - 1]!.hash);
    for (const r of records) expect(r.hash).toBe(recordHash(r));
    expect(records.filter((r) => r.scenario === 'vault/token-ttl-expiry').map((r) => r.phase)).toEqual(['request', 'request', 'use', 'end', 'reuse', 'reuse', 'reuse', 'residue', 'teardown']);
  });

  test('a record hash is sha256 over the record without its hash, keys sorted, no whitespace', () => {
    const line = lines(sealed)[3]!;
    const { hash, ...body } = rec(line);
    expect(hash).toBe(sha256Hex(canonicalJson(body)));
    expect(line).toBe(canonicalJson(rec(line)));
    expect(canonicalJson({ b: 1, a: [{ d: 'x', c: null }] })).toBe('{"a":[{"c":null,"d":"x"}],"b":1}');
  });

  test('is deterministic: the same evidence gives the same chain head', () => {
    const again = makeRunDir(join(scratch, 'again'));
    sealRun(again);
    expect(manifestOf(again).eventLog.head).toBe(manifestOf(sealed).eventLog.head);
  });

  test('is append-only: a second log is never started over an existing one', () => {
    const file = join(scratch, 'once.jsonl');
    const log = EventLog.create(file);
    log.append(entriesOf(results())[0]!);
    expect(() => EventLog.create(file)).toThrow(/EEXIST/);
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
  });
});

describe('an untouched run', () => {
  test('verifies intact, with the signature checked against the public key', () => {
    const report = verifyRun(sealed, { key: signedKey.pub });
    expect(report.problems).toEqual([]);
    expect(report.notes.join('\n')).toMatch(/signature valid \(ed25519/);
  });

  test('manifest lists every report file with its sha256, and the chain head', () => {
    const m = manifestOf(sealed);
    expect(m.files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['summary.json', 'summary.md', 'junit.xml', 'assessment-results.json', 'events.jsonl', 'evidence/vault.token-ttl-expiry.json', 'html/index.html', 'html/data/widget.json', 'allure-results/a-result.json']),
    );
    expect(m.files.map((f) => f.path)).not.toContain('manifest.json');
    const summary = m.files.find((f) => f.path === 'summary.json')!;
    expect(summary.sha256).toBe(sha256Hex(readFileSync(join(sealed, 'summary.json'))));
    expect(m.eventLog.head).toBe(rec(lines(sealed).at(-1)!).hash);
    expect(m.digest).toBe(manifestDigest(m));
  });
});

describe('tampering with the event log is named at the record', () => {
  test('an edited record', () => {
    const dir = copy();
    const ls = lines(dir);
    // Back-date the first denial: the revocation latency would look shorter than it was.
    const r = rec(ls[5]!);
    ls[5] = canonicalJson({ ...r, at: new Date(Date.parse(r.at) - 2000).toISOString() });
    writeLines(dir, ls);
    expect(problemsOf(dir)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^events\.jsonl record seq 5 \(line 6\): edited: its content no longer matches its hash/), expect.stringMatching(/^events\.jsonl: edited: sha256/)]),
    );
  });

  test('an edited record whose hash was recomputed: the next record no longer chains to it', () => {
    const dir = copy();
    const ls = lines(dir);
    const r = rec(ls[5]!);
    r.event = 'reuse attempt 1: denied';
    r.hash = recordHash(r);
    ls[5] = canonicalJson(r);
    writeLines(dir, ls);
    expect(problemsOf(dir)).toContainEqual(expect.stringMatching(/^events\.jsonl record seq 5 \(line 6\): rewritten: record seq 6 chains to a different hash/));
  });

  test('the last record rewritten with a fresh hash no longer matches the sealed head', () => {
    const dir = copy();
    const ls = lines(dir);
    const last = rec(ls.at(-1)!);
    last.event = 'nothing removed';
    last.hash = recordHash(last);
    ls[ls.length - 1] = canonicalJson(last);
    writeLines(dir, ls);
    expect(problemsOf(dir)).toContainEqual(expect.stringMatching(new RegExp(`^events\\.jsonl record seq ${last.seq} .*is not the head the manifest sealed`)));
  });

  test('a removed record', () => {
    const dir = copy();
    const ls = lines(dir);
    ls.splice(7, 1);
    writeLines(dir, ls);
    expect(problemsOf(dir)).toContainEqual('events.jsonl record seq 7: removed: the sequence has a gap there');
  });

  test('records removed from the end of the log', () => {
    const dir = copy();
    const ls = lines(dir);
    const total = ls.length;
    writeLines(dir, ls.slice(0, -2));
    expect(problemsOf(dir)).toContainEqual(`events.jsonl record seq ${total - 2}–${total - 1}: removed from the end of the log (the manifest sealed ${total} records)`);
  });

  test('two records swapped', () => {
    const dir = copy();
    const ls = lines(dir);
    [ls[3], ls[4]] = [ls[4]!, ls[3]!];
    writeLines(dir, ls);
    const problems = problemsOf(dir);
    expect(problems).toContainEqual(expect.stringMatching(/^events\.jsonl record seq [34] \(line [45]\): out of order/));
    expect(problems.filter((p) => /out of order/.test(p))).toHaveLength(1);
  });

  test('a record moved far from its place is the one named', () => {
    const dir = copy();
    const ls = lines(dir);
    const [moved] = ls.splice(2, 1);
    ls.push(moved!);
    writeLines(dir, ls);
    expect(problemsOf(dir).filter((p) => /out of order/.test(p))).toEqual([expect.stringMatching(new RegExp(`^events\\.jsonl record seq 2 \\(line ${ls.length}\\): out of order`))]);
  });

  test('a copied record', () => {
    const dir = copy();
    const ls = lines(dir);
    ls.splice(4, 0, ls[3]!);
    writeLines(dir, ls);
    expect(problemsOf(dir)).toContainEqual(expect.stringMatching(/^events\.jsonl record seq 3 \(line 5\): duplicates seq 3 of line 4/));
  });

  test('a record appended with a valid link', () => {
    const dir = copy();
    const ls = lines(dir);
    const last = rec(ls.at(-1)!);
    const body = { ...last, seq: last.seq + 1, prev: last.hash, event: 'grant revoked (late)' };
    ls.push(canonicalJson({ ...body, hash: recordHash(body) }));
    writeLines(dir, ls);
    expect(problemsOf(dir)).toContainEqual(`events.jsonl record seq ${last.seq + 1}: added after sealing (the manifest sealed ${last.seq + 1} records)`);
  });

  test('a line that is not a record', () => {
    const dir = copy();
    const ls = lines(dir);
    ls[2] = ls[2]!.slice(0, 40);
    writeLines(dir, ls);
    expect(problemsOf(dir)).toContainEqual('events.jsonl line 3: is not a JSON record (edited or truncated)');
  });

  test('an evidence file changed with its manifest entry to match no longer matches the log', () => {
    const dir = copy();
    const file = join(dir, 'evidence', 'vault.token-ttl-expiry.json');
    const r = JSON.parse(readFileSync(file, 'utf8')) as ScenarioResult;
    r.evidence[4]!.event = 'reuse attempt 1: denied';
    writeFileSync(file, JSON.stringify(r, null, 2));
    const m = manifestOf(dir);
    const entry = m.files.find((f) => f.path === 'evidence/vault.token-ttl-expiry.json')!;
    entry.sha256 = sha256Hex(readFileSync(file));
    const { digest: _d, signature: _s, ...body } = m;
    writeFileSync(join(dir, 'manifest.json'), renderManifest(body));
    rmSync(join(dir, 'manifest.sig'));
    expect(problemsOf(dir)).toEqual([expect.stringMatching(/^evidence\/vault\.token-ttl-expiry\.json event 4: differs from events\.jsonl record seq \d+/)]);
  });

  test('checkEventLog on an empty sealed log finds nothing', () => {
    expect(checkEventLog('', { records: 0, head: GENESIS }, [])).toEqual([]);
  });
});

describe('tampering with report files is named at the file', () => {
  test('an edited report file', () => {
    const dir = copy();
    writeFileSync(join(dir, 'summary.md'), `${readFileSync(join(dir, 'summary.md'), 'utf8')}\nall good\n`);
    expect(problemsOf(dir)).toEqual([expect.stringMatching(/^summary\.md: edited: sha256 [0-9a-f]{16}… differs from the sealed/)]);
  });

  test('an edited file deep in html/', () => {
    const dir = copy();
    writeFileSync(join(dir, 'html', 'data', 'widget.json'), '{"passed":true}');
    expect(problemsOf(dir)).toEqual([expect.stringMatching(/^html\/data\/widget\.json: edited/)]);
  });

  test('a removed report file', () => {
    const dir = copy();
    rmSync(join(dir, 'junit.xml'));
    expect(problemsOf(dir)).toEqual(['junit.xml: removed (the manifest lists it)']);
  });

  test('a removed evidence file', () => {
    const dir = copy();
    rmSync(join(dir, 'evidence', 'aws.sts-assume-role-expiry.json'));
    expect(problemsOf(dir)).toContainEqual('evidence/aws.sts-assume-role-expiry.json: removed (the manifest lists it)');
  });

  test('an added file', () => {
    const dir = copy();
    writeFileSync(join(dir, 'allure-results', 'b-result.json'), '{"name":"planted"}');
    expect(problemsOf(dir)).toEqual(['allure-results/b-result.json: added after the run was sealed (not in the manifest)']);
  });

  test('a file replaced by a symlink to a copy of itself', () => {
    const dir = copy();
    cpSync(join(dir, 'junit.xml'), join(scratch, `junit-${n}.xml`));
    rmSync(join(dir, 'junit.xml'));
    symlinkSync(join(scratch, `junit-${n}.xml`), join(dir, 'junit.xml'));
    expect(problemsOf(dir)).toEqual([expect.stringMatching(/^junit\.xml: edited/)]);
  });
});

describe('only what the run wrote is sealed or read', () => {
  test('a seal lists regular files only: a FIFO in the sealed directory is neither read (no hang) nor listed', () => {
    const dir = makeRunDir(join(scratch, `fifo-seal-${n++}`));
    execFileSync('mkfifo', [join(dir, 'allure-results', 'pipe')]);
    sealRun(dir);
    expect(manifestOf(dir).files.map((f) => f.path)).not.toContain('allure-results/pipe');
  });

  test('a FIFO or a link added where the outputs live is named with its kind, never opened or followed', () => {
    const dir = copy();
    execFileSync('mkfifo', [join(dir, 'evidence', 'planted.json')]);
    symlinkSync('/etc/passwd', join(dir, 'html', 'data', 'link.json'));
    expect(problemsOf(dir)).toEqual([
      'evidence/planted.json: added after the run was sealed: a FIFO (not read, not followed)',
      'html/data/link.json: added after the run was sealed: a symlink (not read, not followed)',
    ]);
  });

  test('an entry beside the outputs is foreign: listed with its kind, not a finding', () => {
    const dir = copy();
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    const report = verifyRun(dir);
    expect(report.problems).toEqual([]);
    expect(report.foreign).toEqual(['notes.txt (file)', 'pipe (FIFO)']);
  });

  test('a manifest listing a path outside the directory is a manifest edit, and nothing outside is read', () => {
    const dir = copy();
    const m = manifestOf(dir);
    const { digest: _d, ...body } = { ...m, files: [...m.files, { path: '../outside.json', sha256: '0'.repeat(64), bytes: 0 }] };
    writeFileSync(join(dir, 'manifest.json'), renderManifest(body));
    expect(problemsOf(dir)).toEqual([expect.stringMatching(/^manifest\.json: edited: files\.\d+\.path: a path inside the directory/)]);
  });
});

describe('tampering with the manifest', () => {
  test('an edit that leaves its own digest stale is named as a manifest edit', () => {
    const dir = copy();
    const m = manifestOf(dir);
    m.runId = 'r2';
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
    expect(problemsOf(dir)).toEqual(['manifest.json: edited: its content no longer matches its own digest']);
  });

  test('a digest entry edited to hide a changed file breaks the signature', () => {
    const dir = copy();
    writeFileSync(join(dir, 'summary.json'), '{"totals":{"fail":0}}');
    const m = manifestOf(dir);
    m.files.find((f) => f.path === 'summary.json')!.sha256 = sha256Hex(readFileSync(join(dir, 'summary.json')));
    const { digest: _d, ...body } = m;
    writeFileSync(join(dir, 'manifest.json'), renderManifest(body));
    // Without a key, a manifest rewritten in full is self-consistent: that is what signing is for.
    expect(problemsOf(dir)).toEqual([]);
    expect(problemsOf(dir, signedKey.pub)).toEqual([expect.stringMatching(/^manifest\.sig: bad signature: does not verify over manifest\.json/)]);
  });

  test('a manifest that is no longer JSON', () => {
    const dir = copy();
    writeFileSync(join(dir, 'manifest.json'), '{"format": ');
    expect(problemsOf(dir)).toEqual([expect.stringMatching(/^manifest\.json: edited: not valid JSON any more/)]);
  });

  test('a manifest with a field of the wrong shape', () => {
    const dir = copy();
    const m = manifestOf(dir) as unknown as { eventLog: { records: unknown } };
    m.eventLog.records = 'many';
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    expect(problemsOf(dir)).toEqual([expect.stringMatching(/^manifest\.json: edited: eventLog\.records: /)]);
  });

  test('a removed manifest', () => {
    const dir = copy();
    rmSync(join(dir, 'manifest.json'));
    expect(problemsOf(dir)).toEqual(['manifest.json: missing: the run was never sealed, or its manifest was removed']);
  });
});

describe('the signature', () => {
  test('verifies with the public key, or with the private key (its public half is used)', () => {
    expect(problemsOf(sealed, signedKey.pub)).toEqual([]);
    expect(problemsOf(sealed, signedKey.priv)).toEqual([]);
  });

  test('RSA and ECDSA keys sign and verify too', () => {
    for (const [name, pair] of [
      ['rsa', generateKeyPairSync('rsa', { modulusLength: 2048 })],
      ['ec', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ] as const) {
      const dir = makeRunDir(join(scratch, `signed-${name}`));
      const key = pem(name, pair);
      expect(sealRun(dir, { signKey: key.priv })).toMatch(name === 'rsa' ? /signed \(rsa-sha256/ : /signed \(ecdsa-sha256/);
      expect(problemsOf(dir, key.pub)).toEqual([]);
      expect(problemsOf(dir, otherKey.pub)).toEqual([expect.stringMatching(/^manifest\.sig: made with key sha256:[0-9a-f]{64}, not with the given key/)]);
    }
  });

  test('is rejected with the wrong key', () => {
    expect(problemsOf(sealed, otherKey.pub)).toEqual([expect.stringMatching(/^manifest\.sig: made with key sha256:[0-9a-f]{64}, not with the given key sha256:[0-9a-f]{64}$/)]);
  });

  test('a changed signature file', () => {
    const dir = copy();
    const sig = readFileSync(join(dir, 'manifest.sig'));
    sig[0] = sig[0]! ^ 0xff;
    writeFileSync(join(dir, 'manifest.sig'), sig);
    expect(problemsOf(dir, signedKey.pub)).toEqual([expect.stringMatching(/^manifest\.sig: bad signature/)]);
  });

  test('a removed signature file', () => {
    const dir = copy();
    rmSync(join(dir, 'manifest.sig'));
    expect(problemsOf(dir)).toEqual(['manifest.sig: removed: the manifest declares a ed25519 signature']);
  });

  test('a stripped signature passes only when no key is required', () => {
    const dir = copy();
    const { digest: _d, signature: _s, ...body } = manifestOf(dir);
    writeFileSync(join(dir, 'manifest.json'), renderManifest(body));
    rmSync(join(dir, 'manifest.sig'));
    expect(problemsOf(dir)).toEqual([]);
    expect(problemsOf(dir, signedKey.pub)).toEqual([expect.stringMatching(/^manifest\.json: not signed, but --key was given/)]);
  });

  test('a signature file next to a manifest that declares none', () => {
    const dir = copy();
    const { digest: _d, signature: _s, ...body } = manifestOf(dir);
    writeFileSync(join(dir, 'manifest.json'), renderManifest(body));
    expect(problemsOf(dir)).toEqual([expect.stringMatching(/^manifest\.sig: present, but the manifest declares no signature/)]);
  });
});

describe('bad input is an InputError, not a finding', () => {
  test('no such directory, a directory that is no run, an unreadable or unusable key', () => {
    expect(() => verifyRun(join(scratch, 'nope'))).toThrow(InputError);
    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    expect(() => verifyRun(empty)).toThrow(/not a jitc run directory/);
    expect(() => verifyRun(sealed, { key: join(scratch, 'no-key.pem') })).toThrow(/--key: cannot read/);
    const junk = join(scratch, 'junk.pem');
    writeFileSync(junk, 'not a key');
    expect(() => verifyRun(sealed, { key: junk })).toThrow(/not a PEM public key/);
    const x25519 = join(scratch, 'x25519.pem');
    writeFileSync(x25519, generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    expect(() => sealRun(makeRunDir(join(scratch, 'x-run')), { signKey: x25519 })).toThrow(/x25519 cannot sign/);
  });

  test('a bad signing key leaves the dir unsealed', () => {
    const dir = makeRunDir(join(scratch, 'unsealed'));
    expect(() => sealRun(dir, { signKey: join(scratch, 'no-key.pem') })).toThrow(InputError);
    expect(() => readFileSync(join(dir, 'manifest.json'))).toThrow(/ENOENT/);
  });
});
