/**
 * `jitc verify` on the output of a real `jitc run --suite vault --sign-key`, as an auditor runs it:
 * exit 0 on the untouched dir, exit 1 naming the record or file on each kind of tampering, exit 2
 * on bad input. A merge without a key gives an unsigned but sealed dir.
 */
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { EventRecord } from '../../reports/ledger/event-log.ts';
import type { Manifest } from '../../reports/ledger/manifest.ts';
import { jitc, jitcAsync, type CliResult } from '../support/cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-cli-verify-'));
const run = join(scratch, 'run');
const keys = join(scratch, 'keys');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function keyPair(name: string): { priv: string; pub: string } {
  const pair = generateKeyPairSync('ed25519');
  const priv = join(keys, `${name}.pem`);
  const pub = join(keys, `${name}.pub.pem`);
  writeFileSync(priv, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  return { priv, pub };
}

let signer: { priv: string; pub: string };
let stranger: { priv: string; pub: string };
let result: CliResult;
let n = 0;

beforeAll(() => {
  mkdirSync(keys);
  signer = keyPair('signer');
  stranger = keyPair('stranger');
  result = jitc(['run', '--suite', 'vault', '--out', run, '--sign-key', signer.priv]);
}, 240_000);

function copy(): string {
  const dir = join(scratch, `case-${n++}`);
  cpSync(run, dir, { recursive: true });
  return dir;
}

/** Each verify is its own CLI process; the tampering cases run them side by side. */
function verify(dir: string, ...args: string[]): Promise<CliResult> {
  return jitcAsync(['verify', dir, ...args]).done;
}

function eventLines(dir: string): string[] {
  return readFileSync(join(dir, 'events.jsonl'), 'utf8').trimEnd().split('\n');
}

function expectTampered(r: CliResult, line: RegExp): void {
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.stdout).toMatch(/: TAMPERED \(\d+ problems?\)/);
  expect(r.stdout).toMatch(line);
}

describe('a signed jitc run', () => {
  test('is sealed last: events.jsonl, assessment-results.json, manifest.json and manifest.sig are written', () => {
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stderr).toMatch(/sealed: manifest\.json \(\d+ files, \d+ event records, chain head [0-9a-f]{16}…\), signed \(ed25519/);
    for (const f of ['events.jsonl', 'manifest.json', 'manifest.sig', 'assessment-results.json']) expect(existsSync(join(run, f)), f).toBe(true);
    const manifest = JSON.parse(readFileSync(join(run, 'manifest.json'), 'utf8')) as Manifest;
    const paths = manifest.files.map((f) => f.path);
    for (const f of ['summary.json', 'summary.md', 'junit.xml', 'assessment-results.json', 'events.jsonl']) expect(paths).toContain(f);
    expect(paths.some((p) => p.startsWith('evidence/'))).toBe(true);
    expect(paths.some((p) => p.startsWith('allure-results/'))).toBe(true);
    const records = eventLines(run).map((l) => JSON.parse(l) as EventRecord);
    expect(manifest.eventLog.records).toBe(records.length);
    const phases = new Set(records.map((r) => r.phase));
    for (const phase of ['request', 'use', 'end', 'reuse', 'residue', 'teardown']) expect(phases).toContain(phase);
  });

  test('verifies intact without a key (signature noted, not checked) and with the right public key', async () => {
    const plain = await verify(run);
    expect(plain.code, plain.stdout + plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/: INTACT\n/);
    expect(plain.stdout).toMatch(/signature not checked: give --key/);
    const keyed = await verify(run, '--key', signer.pub);
    expect(keyed.code, keyed.stdout + keyed.stderr).toBe(0);
    expect(keyed.stdout).toMatch(/signature valid \(ed25519, key sha256:[0-9a-f]{64}\)/);
  });

  test('is rejected with the wrong key', async () => {
    expectTampered(await verify(run, '--key', stranger.pub), /manifest\.sig: made with key sha256:[0-9a-f]{64}, not with the given key/);
  });

  test('a run of the same dir again replaces the seal, with no stale manifest.sig when unsigned', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'events.jsonl'), 'stale\n');
    const again = jitc(['run', '--suite', 'vault', '--scenario', 'zero-standing-privilege', '--out', dir]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(existsSync(join(dir, 'manifest.sig'))).toBe(false);
    expect((await verify(dir)).code).toBe(0);
  }, 120_000);
});

describe.concurrent('tampering is exit 1 and names the record or file', () => {
  test('an edited record', async () => {
    const dir = copy();
    const lines = eventLines(dir);
    lines[4] = lines[4]!.replace(/"at":"[^"]+"/, '"at":"2020-01-01T00:00:00.000Z"');
    writeFileSync(join(dir, 'events.jsonl'), `${lines.join('\n')}\n`);
    expectTampered(await verify(dir), /events\.jsonl record seq 4 \(line 5\): edited: its content no longer matches its hash/);
  });

  test('a removed record', async () => {
    const dir = copy();
    const lines = eventLines(dir);
    lines.splice(10, 1);
    writeFileSync(join(dir, 'events.jsonl'), `${lines.join('\n')}\n`);
    expectTampered(await verify(dir), /events\.jsonl record seq 10: removed: the sequence has a gap there/);
  });

  test('reordered records', async () => {
    const dir = copy();
    const lines = eventLines(dir);
    [lines[6], lines[7]] = [lines[7]!, lines[6]!];
    writeFileSync(join(dir, 'events.jsonl'), `${lines.join('\n')}\n`);
    expectTampered(await verify(dir), /events\.jsonl record seq [67] \(line [78]\): out of order/);
  });

  test('an edited report file', async () => {
    const dir = copy();
    const summary = readFileSync(join(dir, 'summary.json'), 'utf8');
    writeFileSync(join(dir, 'summary.json'), summary.replace('"pass": ', '"pass": 1'));
    expectTampered(await verify(dir), /\n {2}summary\.json: edited: sha256/);
  });

  test('an edited evidence file', async () => {
    const dir = copy();
    const file = join(dir, 'evidence', 'vault.token-ttl-expiry.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"denied"', '"allowed"'));
    expectTampered(await verify(dir), /evidence\/vault\.token-ttl-expiry\.json: edited/);
  });

  test('a removed report file', async () => {
    const dir = copy();
    rmSync(join(dir, 'junit.xml'));
    expectTampered(await verify(dir), /junit\.xml: removed \(the manifest lists it\)/);
  });

  test('an added report file', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'allure-results', 'planted-result.json'), '{}');
    expectTampered(await verify(dir), /allure-results\/planted-result\.json: added after the run was sealed/);
  });

  test('an edited manifest', async () => {
    const dir = copy();
    const file = join(dir, 'manifest.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/"runId": "[^"]+"/, '"runId": "someone-else"'));
    expectTampered(await verify(dir), /manifest\.json: edited: its content no longer matches its own digest/);
    expectTampered(await verify(dir, '--key', signer.pub), /manifest\.sig: bad signature/);
  });

  test('a changed signature', async () => {
    const dir = copy();
    const sig = readFileSync(join(dir, 'manifest.sig'));
    sig[sig.length - 1] = sig[sig.length - 1]! ^ 0x01;
    writeFileSync(join(dir, 'manifest.sig'), sig);
    expectTampered(await verify(dir, '--key', signer.pub), /manifest\.sig: bad signature: does not verify over manifest\.json/);
  });

  test('a removed signature', async () => {
    const dir = copy();
    rmSync(join(dir, 'manifest.sig'));
    expectTampered(await verify(dir), /manifest\.sig: removed: the manifest declares a ed25519 signature/);
  });
});

describe('merge seals its own output', () => {
  test('an unsigned merge verifies, carries the same chain head, and fails when a key is required', async () => {
    const merged = join(scratch, 'merged');
    const r = jitc(['merge', run, '--out', merged]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const ok = await verify(merged);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/not signed: integrity checked against the manifest only/);
    const head = (dir: string): string => (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest).eventLog.head;
    expect(head(merged)).toBe(head(run));
    expectTampered(await verify(merged, '--key', signer.pub), /manifest\.json: not signed, but --key was given/);
  });
});

describe.concurrent('bad input is exit 2', () => {
  test('no such directory', async () => {
    const r = await verify(join(scratch, 'nope'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no such directory/);
  });

  test('a directory that is not a run', async () => {
    const dir = join(scratch, 'not-a-run');
    mkdirSync(dir);
    const r = await verify(dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a jitc run directory/);
  });

  test('an unreadable key', async () => {
    const r = await verify(run, '--key', join(keys, 'missing.pub.pem'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--key: cannot read .*missing\.pub\.pem/);
  });

  test('a signing key that is not a key, before anything runs', () => {
    const junk = join(keys, 'junk.pem');
    writeFileSync(junk, 'not a key\n');
    const out = join(scratch, 'never');
    const r = jitc(['run', '--suite', 'vault', '--out', out, '--sign-key', junk]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--sign-key .*not a PEM private key/);
    expect(existsSync(out)).toBe(false);
  });
});
