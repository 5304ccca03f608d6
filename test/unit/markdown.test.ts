/**
 * summary.md's control view: from a control an auditor reaches every check that evidences it,
 * with its verdict, its detail and the path of the raw evidence file, in a table that stays a
 * table whatever the targets answered.
 */
import { describe, expect, test } from 'vitest';
import { loadCatalogue } from '../../scenarios/catalogue.ts';
import { renderMarkdown } from '../../reports/writers/markdown.ts';
import { buildSummary } from '../../reports/writers/summary.ts';
import { checkResult, fakeResult } from '../support/fake-adapter.ts';

const passing = fakeResult({
  id: 'token-revoke-at-task-end',
  checks: [checkResult('zero-standing-privilege', 'pass', 'denied before the grant (HTTP 403)'), checkResult('reuse-denied', 'pass', 'JIT token denied 18 ms after the end'), checkResult('no-residue', 'pass')],
});
const failing = fakeResult({
  id: 'child-token-cascade',
  checks: [checkResult('reuse-denied', 'pass'), checkResult('derived-credentials-denied', 'fail', 'child token | still usable\n3012 ms after the end <orphan>')],
});
const waived = fakeResult({
  adapter: 'aws',
  id: 'sts-assume-role-expiry',
  checks: [checkResult('reuse-denied', 'fail', 'session keys still work 40 s after expiry')],
  verdict: 'waived',
  waiver: { id: 'emulator-expiry', justification: 'moto does not expire keys', acceptedBy: 'security-engineering', expires: '2027-06-30' },
});

const summary = buildSummary('r1', '2026-01-01T00:00:00.000Z', [passing, failing, waived], { applied: [], expired: [], unused: [] });
const md = renderMarkdown(summary);

/** The <details> block of one control, from its opening tag to its closing one. */
function controlBlock(id: string): string {
  const start = md.indexOf(`<b>${id} — `);
  expect(start, `a section for ${id}`).toBeGreaterThan(-1);
  const open = md.lastIndexOf('<details', start);
  return md.slice(open, md.indexOf('</details>', start) + '</details>'.length);
}

/** Table rows of a block as cells; a row that splits into the wrong number of cells fails here. */
function rows(block: string): string[][] {
  return block
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) => {
      const cells = l.slice(2, -2).split(/(?<!\\) \| /);
      expect(cells, l).toHaveLength(5);
      return cells;
    });
}

describe('summary.md, by control', () => {
  test('every check that evidences a control is listed under it with verdict, detail and evidence file', () => {
    const catalogue = loadCatalogue();
    for (const s of summary.scenarios) {
      for (const c of s.checks) {
        for (const control of c.controls) {
          expect(catalogue.controls.has(control)).toBe(true);
          const row = rows(controlBlock(control)).find((r) => r[0] === `\`${s.adapter}/${s.id}\`` && r[1] === c.name);
          expect(row, `${control}: ${s.adapter}/${s.id} ${c.name}`).toBeDefined();
          expect(row![2]).toContain(c.verdict);
          expect(row![4]).toBe(`\`evidence/${s.adapter}.${s.id}.json\``);
        }
      }
    }
  });

  test('NIST CSF PR.AC-4 leads to the reuse-denied checks and their details', () => {
    const block = controlBlock('NIST-CSF-PR.AC-4');
    expect(block).toContain('PR.AC-4: Access permissions and authorizations are managed');
    const reuse = rows(block).filter((r) => r[1] === 'reuse-denied');
    expect(reuse.map((r) => r[0]).sort()).toEqual(['`aws/sts-assume-role-expiry`', '`vault/child-token-cascade`', '`vault/token-revoke-at-task-end`']);
    expect(reuse.find((r) => r[0] === '`vault/token-revoke-at-task-end`')![3]).toBe('JIT token denied 18 ms after the end');
  });

  test('a control where every check passed is folded; one with a failure opens by itself', () => {
    const derived = checkResult('derived-credentials-denied', 'fail').controls;
    for (const control of derived) expect(controlBlock(control)).toMatch(/^<details open>/);
    const untouched = checkResult('zero-standing-privilege', 'pass').controls.filter((c) => !derived.includes(c) && !checkResult('reuse-denied', 'fail').controls.includes(c));
    expect(untouched.length).toBeGreaterThan(0);
    for (const control of untouched) expect(controlBlock(control)).toMatch(/^<details>/);
  });

  test('a failed check under a waiver stays fail, with the waiver beside it', () => {
    const row = rows(controlBlock('NIST-CSF-PR.AC-4')).find((r) => r[0] === '`aws/sts-assume-role-expiry`')!;
    expect(row[2]).toBe('❌ fail, waived (`emulator-expiry`)');
  });

  test('pipes, newlines and angle brackets in a detail stay inside their cell', () => {
    const row = rows(controlBlock(checkResult('derived-credentials-denied', 'fail').controls[0]!)).find((r) => r[1] === 'derived-credentials-denied')!;
    expect(row[3]).toBe('child token \\| still usable 3012 ms after the end &lt;orphan&gt;');
  });

  test('the counts in each folded summary line add up to the rows under it', () => {
    for (const match of md.matchAll(/<b>([^<]+?) — [^<]*<\/b> · (\d+) checks?: (\d+) pass/g)) {
      const block = controlBlock(match[1]!);
      expect(rows(block)).toHaveLength(Number(match[2]));
      expect(rows(block).filter((r) => r[2] === '✅ pass')).toHaveLength(Number(match[3]));
    }
  });

  test('keeps the headings pipelines look for and a per-scenario table with the evidence path', () => {
    expect(md).toMatch(/^### By control$/m);
    expect(md).toMatch(/^### By scenario$/m);
    expect(md).toContain('| `vault/child-token-cascade` | ❌ fail |');
    expect(md).toContain('`evidence/vault.child-token-cascade.json` |');
  });
});

describe('summary.md, a check a target cannot evidence', () => {
  test('is shown under each of its controls as not evidenced, counted neither pass nor fail', () => {
    const gap = fakeResult({ id: 'token-ttl-expiry', checks: [checkResult('no-residue', 'pass')] });
    gap.evidence.push({ at: '2026-01-01T00:00:00.000Z', phase: 'setup', event: 'audit-trail not evidenced on this target: no audit log is named', data: { notEvidenced: 'audit-trail' } });
    const built = buildSummary('r2', '2026-01-01T00:00:00.000Z', [gap], { applied: [], expired: [], unused: [] });
    expect(built.totals).toMatchObject({ pass: 1, fail: 0, inconclusive: 0 });
    const text = renderMarkdown(built);
    for (const control of loadCatalogue().checks.get('audit-trail')!.controls) {
      const start = text.indexOf(`<b>${control} — `);
      expect(start, control).toBeGreaterThan(-1);
      const block = text.slice(text.lastIndexOf('<details', start), text.indexOf('</details>', start));
      expect(block).toContain('<details open>');
      expect(block).toContain('1 not evidenced');
      expect(block).toContain('| `vault/token-ttl-expiry` | audit-trail | ⬜ not evidenced | audit-trail not evidenced on this target: no audit log is named |');
    }
  });
});

describe('summary.md, break-glass', () => {
  const emergency = fakeResult({ id: 'break-glass-token', breakGlass: true, checks: [checkResult('break-glass-isolated', 'pass', 'the routine JIT identity is refused (HTTP 403 permission denied)')] });
  const both = renderMarkdown(buildSummary('r2', '2026-01-01T00:00:00.000Z', [passing, emergency], { applied: [], expired: [], unused: [] }));

  test('break-glass results have a section of their own, apart from the routine scenarios', () => {
    const routine = both.slice(both.indexOf('### By scenario'), both.indexOf('### Break-glass'));
    const apart = both.slice(both.indexOf('### Break-glass'));
    expect(both.indexOf('### By scenario')).toBeGreaterThan(-1);
    expect(both.indexOf('### Break-glass')).toBeGreaterThan(both.indexOf('### By scenario'));
    expect(routine).toContain('`vault/token-revoke-at-task-end`');
    expect(routine).not.toContain('break-glass-token');
    expect(apart).toContain('| `vault/break-glass-token` | ✅ pass |');
    expect(apart).not.toContain('token-revoke-at-task-end');
  });

  test('under a control a break-glass check is marked as such', () => {
    expect(both).toContain('| `vault/break-glass-token` (break-glass) | break-glass-isolated |');
  });

  test('a run without break-glass scenarios has no such section', () => {
    expect(md).not.toContain('### Break-glass');
  });
});
