/**
 * assessment-results.json is valid NIST OSCAL: checked against the official OSCAL 1.2.3
 * assessment-results JSON schema (test/data/oscal/, see its README for the exact origin), for a real
 * `jitc run` and for a run with failures, inconclusive checks, a waiver and a scenario that never ran.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeRunReports } from '../../reports/outputs/artifacts.ts';
import { loadCatalogue } from '../../scenarios/catalogue.ts';
import type { EventRecord } from '../../reports/ledger/event-log.ts';
import { sealRun } from '../../reports/ledger/ledger.ts';
import { ASSESSMENT_RESULTS, OSCAL_VERSION, uuidV5, type AssessmentResultsDocument, type OscalFinding } from '../../reports/writers/oscal.ts';
import type { EvidenceEvent } from '../../scenarios/evidence.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { jitc, type CliResult } from '../support/cli.ts';
import { checkResult, fakeResult } from '../support/fake-adapter.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const SCHEMA_FILE = join(PROJECT_ROOT, 'test', 'data', 'oscal', 'oscal_assessment-results_schema.json');
const SCHEMA_SHA256 = '37f41f6813c78e6d2c272b27030e17e93d7f92fee519c72e7531574fa0ecbb05';
const scratch = mkdtempSync(join(tmpdir(), 'jitc-oscal-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * The official schema, compiled as published (draft-07). ajv's defaults need two things stated:
 * - ajv-formats: the schema relies on `date-time`, `uri`, `uri-reference` and `email` formats;
 *   without them strict mode refuses the unknown formats, and non-strict mode would skip them.
 * - unicodeRegExp: true (ajv's default, stated because it matters): OSCAL's token and name patterns
 *   use `\p{L}` / `\p{N}`, which only mean "any letter / digit" with the `u` flag; without it they
 *   would silently match the literal text "p{L}".
 * strict stays on: the schema compiles under it, so nothing is ignored quietly.
 */
function oscalValidator(): ValidateFunction {
  const ajv = new Ajv({ strict: true, allErrors: true, unicodeRegExp: true });
  addFormats.default(ajv);
  return ajv.compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object);
}

const validate = oscalValidator();

function errorsOf(doc: unknown): string[] {
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

function read(dir: string): AssessmentResultsDocument {
  return JSON.parse(readFileSync(join(dir, ASSESSMENT_RESULTS), 'utf8')) as AssessmentResultsDocument;
}

function findingFor(doc: AssessmentResultsDocument, targetId: string, prop?: [string, string]): OscalFinding[] {
  return (doc['assessment-results'].results[0]!.findings ?? []).filter(
    (f) => f.target['target-id'] === targetId && (!prop || f.props?.some((p) => p.name === prop[0] && p.value === prop[1])),
  );
}

describe('the schema in test/data/oscal', () => {
  test("is NIST's OSCAL assessment-results schema of the release the document declares", () => {
    const text = readFileSync(SCHEMA_FILE);
    expect(createHash('sha256').update(text).digest('hex')).toBe(SCHEMA_SHA256);
    const schema = JSON.parse(text.toString('utf8')) as { $id: string; $comment: string };
    expect(schema.$id).toBe(`http://csrc.nist.gov/ns/oscal/${OSCAL_VERSION}/oscal-ar-schema.json`);
    expect(schema.$comment).toBe('OSCAL Assessment Results Model: JSON Schema');
  });

  test('is not a vacuous check: it rejects what OSCAL forbids', () => {
    const bad = {
      'assessment-results': {
        uuid: 'not-a-uuid',
        metadata: { title: 'x', 'last-modified': 'yesterday', version: '1', 'oscal-version': OSCAL_VERSION },
        'import-ap': { href: '#x' },
        results: [],
      },
    };
    const errors = errorsOf(bad);
    expect(errors.join('\n')).toMatch(/\/assessment-results\/uuid must match pattern/);
    expect(errors.join('\n')).toMatch(/last-modified must match format "date-time"/);
    expect(errors.join('\n')).toMatch(/\/results must NOT have fewer than 1 items/);
    expect(errorsOf({ 'assessment-results': { uuid: uuidV5('x') } }).join('\n')).toMatch(/must have required property 'metadata'/);
    // \p{L} is a letter class, so a token may not start with a digit or hold a space.
    const token = JSON.parse(JSON.stringify(bad)) as { 'assessment-results': { 'import-ap': object; uuid: string; metadata: object; results: unknown[] } };
    expect(errorsOf({ ...token, 'assessment-results': { ...token['assessment-results'], metadata: { ...token['assessment-results'].metadata, props: [{ name: '1 bad', value: 'v' }] } } }).join('\n')).toMatch(
      /props\/0\/name must match pattern/,
    );
  });
});

describe('a real jitc run', () => {
  const out = join(scratch, 'run');
  let result: CliResult;
  beforeAll(() => {
    // Vault's native scenarios: none names its context, so SP 800-207's tenet 4 is evidenced by nothing.
    const native = ['token-ttl-expiry', 'token-revoke-at-task-end', 'child-token-cascade', 'renewal-capped', 'approle-secret-id-single-use', 'wrapped-response-single-use', 'zero-standing-privilege'];
    result = jitc(['run', '--suite', 'vault', '--scenario', ...native, '--out', out]);
  }, 240_000);

  test('writes assessment-results.json that the official schema accepts', () => {
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(errorsOf(read(out))).toEqual([]);
  });

  test('maps every control of the catalogue, each with a finding', () => {
    const doc = read(out);
    const r = doc['assessment-results'].results[0]!;
    const reviewed = r['reviewed-controls']['control-selections'].flatMap((s) => s['include-controls'].map((c) => c['control-id']));
    const catalogue = [...loadCatalogue().controls.keys()];
    expect(reviewed.sort()).toEqual([...catalogue].sort());
    for (const id of catalogue) expect(findingFor(doc, id), id).toHaveLength(1);
    // The Vault scenarios evidence reuse-denied and OpenBao's audit trail, so their controls are
    // satisfied; tenet 4 needs a context-bound check, which none of them makes: unevidenced is never satisfied.
    expect(findingFor(doc, 'OWASP-NHI-03')[0]!.target.status).toEqual({ state: 'satisfied', reason: 'pass' });
    expect(findingFor(doc, 'NIST-800-53-AU-12')[0]!.target.status).toEqual({ state: 'satisfied', reason: 'pass' });
    expect(findingFor(doc, 'NIST-800-207-T4')[0]!.target.status.state).toBe('not-satisfied');
  });

  test("points every observation at evidence that exists, and at the scenario's records in events.jsonl", () => {
    const doc = read(out);
    const records = readFileSync(join(out, 'events.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as EventRecord);
    const observations = doc['assessment-results'].results[0]!.observations ?? [];
    expect(observations.length).toBeGreaterThanOrEqual(7 * 5);
    for (const o of observations) {
      const scenario = o.props.find((p) => p.name === 'scenario')!.value;
      const evidence = o['relevant-evidence'];
      expect(evidence.map((e) => e.href)).toEqual([`evidence/${scenario.replace('/', '.')}.json`, 'events.jsonl']);
      for (const e of evidence) expect(existsSync(join(out, e.href!)), e.href).toBe(true);
      const first = Number(evidence[1]!.props!.find((p) => p.name === 'first-seq')!.value);
      const last = Number(evidence[1]!.props!.find((p) => p.name === 'last-seq')!.value);
      expect(records.filter((rec) => rec.scenario === scenario).map((rec) => rec.seq)).toEqual(Array.from({ length: last - first + 1 }, (_, i) => first + i));
    }
  });
});

describe('a run with failures', () => {
  const out = join(scratch, 'failing');
  const events: EvidenceEvent[] = [
    { at: '2026-01-01T00:00:00.100Z', phase: 'request', event: 'grant issued', data: { credentialId: 'accessor-1' } },
    { at: '2026-01-01T00:00:04.000Z', phase: 'reuse', event: 'reuse attempt 1: allowed' },
  ];
  const results: ScenarioResult[] = [
    fakeResult({ id: 'token-ttl-expiry', evidence: events, checks: [checkResult('zero-standing-privilege', 'pass'), checkResult('reuse-denied', 'fail', 'still allowed 30 s after expiry')] }),
    fakeResult({
      id: 'child-token-cascade',
      evidence: events,
      // The same check once per handle: each is its own observation and finding.
      checks: [checkResult('grant-usable', 'inconclusive', 'use probe answered HTTP 503'), checkResult('derived-credentials-denied', 'fail', 'child 1 allowed'), checkResult('derived-credentials-denied', 'fail', 'child 2 allowed')],
    }),
    fakeResult({
      id: 'renewal-capped',
      evidence: events,
      checks: [checkResult('holder-cannot-extend', 'fail', 'renewed past explicit_max_ttl')],
      verdict: 'waived',
      waiver: { id: 'dev-renewal', justification: 'dev cluster only', acceptedBy: 'security-engineering', expires: '2099-01-01' },
    }),
    // Planned but never ran: no evidence file, only the lifecycle-completed doubt.
    fakeResult({ id: 'wrapped-response-single-use', checks: [checkResult('lifecycle-completed', 'inconclusive', 'the scenario did not run to a result')] }),
  ];

  let doc: AssessmentResultsDocument;
  beforeAll(() => {
    mkdirSync(join(out, 'evidence'), { recursive: true });
    for (const r of results.filter((r) => r.evidence.length > 0)) writeFileSync(join(out, 'evidence', `${r.adapter}.${r.id}.json`), JSON.stringify(r));
    writeRunReports(out, results, { runId: 'r-fail', startedAt: '2026-01-01T00:00:00.000Z', waivers: [], gate: [], doubtful: false });
    sealRun(out);
    doc = read(out);
  });

  test('is valid OSCAL', () => {
    expect(errorsOf(doc)).toEqual([]);
  });

  test('has a not-satisfied finding for each failed or inconclusive check, none for a passed one', () => {
    const [fail] = findingFor(doc, 'reuse-denied', ['scenario', 'vault/token-ttl-expiry']);
    expect(fail!.target.status).toEqual({ state: 'not-satisfied', reason: 'fail' });
    expect(fail!.description).toMatch(/still allowed 30 s after expiry/);
    expect(fail!.props).toContainEqual(expect.objectContaining({ name: 'control-id', value: 'OWASP-NHI-03' }));
    const [doubt] = findingFor(doc, 'grant-usable');
    expect(doubt!.target.status).toMatchObject({ state: 'not-satisfied', reason: 'other' });
    expect(findingFor(doc, 'zero-standing-privilege')).toEqual([]);
    expect(findingFor(doc, 'derived-credentials-denied').map((f) => f.description.split('\n')[0])).toEqual(['child 1 allowed', 'child 2 allowed']);
    const [waived] = findingFor(doc, 'holder-cannot-extend', ['scenario', 'vault/renewal-capped']);
    expect(waived!.target.status.state).toBe('not-satisfied');
    expect(waived!.remarks).toMatch(/Waived by dev-renewal, accepted by security-engineering/);
  });

  test("controls of failed checks are not satisfied, and each finding's observations exist", () => {
    expect(findingFor(doc, 'OWASP-NHI-03')[0]!.target.status).toEqual({ state: 'not-satisfied', reason: 'fail' });
    expect(findingFor(doc, 'OWASP-NHI-07')[0]!.remarks).toMatch(/accepted by waiver \(still failures\).*renewal-capped holder-cannot-extend \(waiver dev-renewal\)/);
    const r = doc['assessment-results'].results[0]!;
    const uuids = new Set((r.observations ?? []).map((o) => o.uuid));
    for (const f of r.findings ?? []) for (const o of f['related-observations'] ?? []) expect(uuids.has(o['observation-uuid']), f.title).toBe(true);
  });

  test('a scenario that never ran has no evidence to point at, and says so', () => {
    const o = (doc['assessment-results'].results[0]!.observations ?? []).find((x) => x.props.some((p) => p.value === 'vault/wrapped-response-single-use'))!;
    expect(o['relevant-evidence']).toEqual([{ description: 'No evidence: the scenario did not run to a result.' }]);
  });

  test('UUIDs are stable name-based v5 UUIDs, unique within the document', () => {
    const text = readFileSync(join(out, ASSESSMENT_RESULTS), 'utf8');
    const uuids = [...text.matchAll(/"(?:uuid|observation-uuid)": "([^"]+)"/g)].map((m) => m[1]!);
    for (const u of uuids) expect(u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const declared = [...text.matchAll(/"uuid": "([^"]+)"/g)].map((m) => m[1]!);
    expect(new Set(declared).size).toBe(declared.length);
    expect(uuidV5('a')).toBe(uuidV5('a'));
    expect(uuidV5('a')).not.toBe(uuidV5('b'));
  });

  test('embeds the control catalogue as the plan it imports', () => {
    const ar = doc['assessment-results'];
    const resource = ar['back-matter'].resources.find((x) => `#${x.uuid}` === ar['import-ap'].href)!;
    expect(Buffer.from(resource.base64!.value, 'base64').toString('utf8')).toBe(readFileSync(join(PROJECT_ROOT, 'scenarios', 'controls.yaml'), 'utf8'));
  });
});

describe('a run with a check its target cannot evidence', () => {
  const out = join(scratch, 'gap');
  const gap = fakeResult({ id: 'token-ttl-expiry', checks: [checkResult('no-residue', 'pass')] });
  gap.evidence.push({ at: '2026-01-01T00:00:00.000Z', phase: 'setup', event: 'audit-trail not evidenced on this target: no audit log is named', data: { notEvidenced: 'audit-trail' } });
  let doc: AssessmentResultsDocument;
  beforeAll(() => {
    mkdirSync(join(out, 'evidence'), { recursive: true });
    writeFileSync(join(out, 'evidence', `${gap.adapter}.${gap.id}.json`), JSON.stringify(gap));
    writeRunReports(out, [gap], { runId: 'r-gap', startedAt: '2026-01-01T00:00:00.000Z', waivers: [], gate: [], doubtful: false });
    sealRun(out);
    doc = read(out);
  });

  test('is valid OSCAL', () => {
    expect(errorsOf(doc)).toEqual([]);
  });

  test('states the gap in an observation of its own, no finding of its own, related from each of its controls', () => {
    const r = doc['assessment-results'].results[0]!;
    const observation = (r.observations ?? []).find((o) => o.props.some((p) => p.name === 'evidence-status' && p.value === 'not-evidenced'))!;
    expect(observation.description).toBe('Not evidenced on this target, counted neither pass nor fail: audit-trail not evidenced on this target: no audit log is named');
    expect(observation.props).toContainEqual(expect.objectContaining({ name: 'check', value: 'audit-trail' }));
    expect(observation.props.some((p) => p.name === 'verdict')).toBe(false);
    expect(findingFor(doc, 'audit-trail')).toEqual([]);
    const controls = loadCatalogue().checks.get('audit-trail')!.controls;
    expect(controls.length).toBeGreaterThan(0);
    for (const control of controls) {
      const [finding] = findingFor(doc, control);
      expect(finding!['related-observations'], control).toContainEqual({ 'observation-uuid': observation.uuid });
      expect(finding!.remarks, control).toMatch(/Not evidenced on the target of vault\/token-ttl-expiry \(audit-trail\): counted neither pass nor fail/);
    }
  });
});
