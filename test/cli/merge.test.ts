/**
 * `jitc merge` through the real command line, over sealed run directories built from fake results:
 * it verifies every source before anything else, never lets a later result hide an earlier
 * failure, accepts a sharded run only whole, judges the merged run as a whole, and on any error
 * leaves --out exactly as it was (README "In a pipeline", "Evidence an auditor can trust").
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { Manifest } from '../../reports/ledger/manifest.ts';
import type { Summary } from '../../reports/writers/summary.ts';
import type { AssessmentResultsDocument } from '../../reports/writers/oscal.ts';
import { expectRefused, jitcAsync, type CliResult } from '../support/cli.ts';
import { reseal, sealedResult, sealedRun } from '../support/sealed-run.ts';
import { snapshot } from '../support/dir-snapshot.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-cli-merge-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string): string => join(scratch, `${name}-${n++}`);

function merge(...args: string[]): Promise<CliResult> {
  return jitcAsync(['merge', ...args]).done;
}

/** A merged report already in --out, which a failing merge must leave untouched. */
async function existingMerge(): Promise<string> {
  const source = sealedRun(fresh('earlier'), [sealedResult('token-ttl-expiry', 'pass', 'early1')], { runId: 'early1' });
  const out = fresh('merged');
  const r = await merge(source, '--out', out);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return out;
}

describe.concurrent('a later result never hides an earlier failure', () => {
  test('a failing run and a passing run of the same scenario are two results: exit 2 naming both, --out untouched', async () => {
    const failing = sealedRun(fresh('failing'), [sealedResult('token-ttl-expiry', 'fail', 'fail1')], { runId: 'fail1' });
    const passing = sealedRun(fresh('passing'), [sealedResult('token-ttl-expiry', 'pass', 'pass1')], { runId: 'pass1' });
    const out = await existingMerge();
    const before = snapshot(out);
    const r = await merge(failing, passing, '--out', out);
    expectRefused(r, new RegExp(`vault/token-ttl-expiry: two results \\(${failing} on local .*, ${passing} on local`));
    expect(snapshot(out)).toEqual(before);
  });

  test('a source jitc verify calls tampered is refused, named, and neither merged nor recorded in the history', async () => {
    const source = sealedRun(fresh('tampered'), [sealedResult('token-ttl-expiry', 'fail', 'tamp1')], { runId: 'tamp1' });
    const file = join(source, 'evidence', 'vault.token-ttl-expiry.json');
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll('"fail"', '"pass"'));
    const history = join(scratch, `history-${n++}.sqlite`);
    const out = fresh('never');
    const r = await merge(source, '--out', out, '--history', history);
    expectRefused(r, new RegExp(`${source}: TAMPERED, not merged: evidence/vault\\.token-ttl-expiry\\.json: edited`));
    expect(existsSync(out)).toBe(false);
    expect(existsSync(history)).toBe(false);
  });

  test('a result whose verdict disagrees with its own checks is refused, even when the manifest was recomputed to match', async () => {
    const source = sealedRun(fresh('forged'), [sealedResult('token-ttl-expiry', 'fail', 'forg1')], { runId: 'forg1' });
    const file = join(source, 'evidence', 'vault.token-ttl-expiry.json');
    const forged = JSON.parse(readFileSync(file, 'utf8')) as { verdict: string };
    forged.verdict = 'pass';
    writeFileSync(file, JSON.stringify(forged));
    reseal(source);
    const r = await merge(source, '--out', fresh('never'));
    expectRefused(r, /vault\.token-ttl-expiry\.json: verdict "pass" is not what its checks say \(fail\)/);
  });
});

describe.concurrent('a failing merge names the file and leaves --out exactly as it was', () => {
  test('malformed evidence (resealed so it verifies) is one line naming the file', async () => {
    const source = sealedRun(fresh('malformed'), [sealedResult('token-ttl-expiry', 'pass', 'mal1')], { runId: 'mal1' });
    writeFileSync(join(source, 'evidence', 'vault.token-ttl-expiry.json'), '{"id": "token-ttl-expiry"}');
    reseal(source);
    const out = await existingMerge();
    const before = snapshot(out);
    expectRefused(await merge(source, '--out', out), new RegExp(`${source}/evidence/vault\\.token-ttl-expiry\\.json: not a jitc evidence file: adapter: `));
    expect(snapshot(out)).toEqual(before);
  });

  test('a null summary.json (resealed so it verifies) is one line naming the file', async () => {
    const source = sealedRun(fresh('null-summary'), [sealedResult('token-ttl-expiry', 'pass', 'nul1')], { runId: 'nul1' });
    writeFileSync(join(source, 'summary.json'), 'null');
    reseal(source);
    const out = await existingMerge();
    const before = snapshot(out);
    expectRefused(await merge(source, '--out', out), new RegExp(`${source}/summary\\.json: top level: `));
    expect(snapshot(out)).toEqual(before);
  });

  test('a directory that was never sealed is refused', async () => {
    const source = sealedRun(fresh('unsealed'), [sealedResult('token-ttl-expiry', 'pass', 'uns1')], { runId: 'uns1' });
    rmSync(join(source, 'manifest.json'));
    expectRefused(await merge(source, '--out', fresh('never')), /TAMPERED, not merged: manifest\.json: missing/);
  });
});

describe.concurrent('a sharded run is merged whole or not at all', () => {
  const planned = ['vault/child-token-cascade', 'vault/token-revoke-at-task-end', 'vault/token-ttl-expiry'];
  const shards = (runPrefix: string, verdicts: Record<string, 'pass' | 'fail'>): string[] =>
    planned.map((key, i) => {
      const id = key.split('/')[1]!;
      // Shard 3 has nothing to run: its scenario went to shard 2 (sharding is by suite file).
      const ids = i === 0 ? [id] : i === 1 ? [id, planned[2]!.split('/')[1]!] : [];
      const runId = `${runPrefix}${i + 1}`;
      return sealedRun(fresh(`shard-${i + 1}`), ids.map((x) => sealedResult(x, verdicts[x] ?? 'pass', runId)), { runId, shard: { index: i + 1, count: 3, planned } });
    });

  test('2 of 3 shards is exit 2 naming the missing shard, never CONFORMANT', async () => {
    const [one, two] = shards('half', {});
    expectRefused(await merge(one!, two!, '--out', fresh('never')), /shard 3\/3 of plan sha256:[0-9a-f]{12}… is missing \(merging 1\/3 from .*, 2\/3 from .*\); a sharded run is merged whole or not at all/);
  });

  test('the same shard twice is refused', async () => {
    const [one, two, three] = shards('twice', {});
    const again = fresh('shard-2-again');
    cpSync(two!, again, { recursive: true });
    expectRefused(await merge(one!, two!, again, three!, '--out', fresh('never')), /shard 2\/3 of plan sha256:[0-9a-f]{12}… is given twice/);
    expectRefused(await merge(one!, two!, two!, three!, '--out', fresh('never')), /shard-2-\d+: given twice/);
  });

  test('all shards, one of them empty, merge into one report that keeps each source\'s run id and chain head', async () => {
    const dirs = shards('whole', { 'token-revoke-at-task-end': 'fail' });
    const out = fresh('merged');
    const r = await merge(...dirs, '--out', out);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/jitc NON-CONFORMANT: 2 pass, 1 fail/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    const heads = dirs.map((d) => (JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as Manifest).eventLog.head);
    expect(summary.merged).toEqual([
      { runId: 'whole1', chainHead: heads[0], records: 2, sealedAt: expect.any(String), shard: '1/3' },
      { runId: 'whole2', chainHead: heads[1], records: 4, sealedAt: expect.any(String), shard: '2/3' },
      { runId: 'whole3', chainHead: heads[2], records: 0, sealedAt: expect.any(String), shard: '3/3' },
    ]);
    expect((await jitcAsync(['verify', out]).done).code).toBe(0);
  });

  test('shards that together tested nothing are exit 2: the merged run is judged as a whole', async () => {
    const empty = sealedRun(fresh('empty'), [], { runId: 'empty1', shard: { index: 1, count: 1, planned: [] } });
    expectRefused(await merge(empty, '--out', fresh('never')), /nothing tested: the run merged holds no scenario result/);
  });
});

describe('a check a shard\'s target could not evidence', () => {
  test('stays a gap in the merged summary, JUnit and OSCAL results, for each shard, counted neither pass nor fail', async () => {
    const planned = ['vault/token-revoke-at-task-end', 'vault/token-ttl-expiry'];
    const dirs = planned.map((key, i) => {
      const runId = `gap${i + 1}`;
      const result = sealedResult(key.split('/')[1]!, 'pass', runId);
      result.evidence.push({ at: result.startedAt, phase: 'setup', event: `audit-trail not evidenced on this target: no audit log is named (shard ${i + 1})`, data: { notEvidenced: 'audit-trail' } });
      return sealedRun(fresh(`gap-shard-${i + 1}`), [result], { runId, shard: { index: i + 1, count: 2, planned } });
    });
    const out = fresh('merged-gaps');
    const r = await merge(...dirs, '--out', out);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    expect(summary.totals).toMatchObject({ pass: 2, fail: 0, inconclusive: 0 });
    expect(summary.scenarios.map((s) => s.notEvidenced?.map((g) => `${s.id}: ${g.check}: ${g.why}`))).toEqual([
      ['token-revoke-at-task-end: audit-trail: audit-trail not evidenced on this target: no audit log is named (shard 1)'],
      ['token-ttl-expiry: audit-trail: audit-trail not evidenced on this target: no audit log is named (shard 2)'],
    ]);
    const junit = readFileSync(join(out, 'junit.xml'), 'utf8');
    for (const shard of [1, 2]) expect(junit).toMatch(new RegExp(`<property name="notEvidenced" value="audit-trail \\(.+\\): audit-trail not evidenced on this target: no audit log is named \\(shard ${shard}\\)"/>`));
    const oscal = JSON.parse(readFileSync(join(out, 'assessment-results.json'), 'utf8')) as AssessmentResultsDocument;
    const gaps = (oscal['assessment-results'].results[0]!.observations ?? []).filter((o) => o.props.some((p) => p.name === 'evidence-status' && p.value === 'not-evidenced'));
    expect(gaps.map((o) => o.props.find((p) => p.name === 'scenario')?.value).sort()).toEqual(planned);
  });
});
