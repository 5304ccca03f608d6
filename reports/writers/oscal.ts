/**
 * assessment-results.json: the run as a NIST OSCAL Assessment Results document, for GRC tools and
 * auditors who consume OSCAL. One result per run; every control of the catalogue is a reviewed
 * control with its own finding (satisfied only when every check that evidences it passed — no pass
 * on doubt, and a control no check of this run evidences is not satisfied); every failed or
 * inconclusive check is a finding of its own; every check of every scenario is an observation whose
 * relevant evidence points at the scenario's evidence file and its records in events.jsonl. A check
 * a target cannot evidence (no readable trail) is an observation of its own with a "not evidenced"
 * statement, related from each of its controls' findings: a gap an auditor sees, never a finding
 * of its own, a pass or a fail.
 *
 * jitc has no separate OSCAL assessment plan: its plan is the control catalogue, embedded in
 * back-matter and imported from there. Control ids are the catalogue's own (summary.json, JUnit and
 * Allure use the same), with the framework and source link on each control's finding.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckResult, ScenarioResult } from '../../scenarios/result.ts';
import { CATALOGUE_PATH, loadCatalogue, type Control } from '../../scenarios/catalogue.ts';
import { evidenceFileOf, EVENT_LOG, orderedResults, seqSpans } from '../ledger/event-log.ts';
import { type NotEvidenced, notEvidencedOf, type Summary } from './summary.ts';

export const ASSESSMENT_RESULTS = 'assessment-results.json';
/** The OSCAL release of the schema this document is validated against (test/data/oscal/). */
export const OSCAL_VERSION = '1.2.3';
/** Namespace of jitc's own property names (OSCAL requires one for names it does not define). */
export const JITC_NS = 'urn:jitc:oscal';
/** Fixed namespace for name-based (v5) UUIDs: the same run and subject always get the same UUID. */
const UUID_NAMESPACE = 'da04d59e-1a10-4468-b629-30a04bff29aa';

export interface OscalProperty {
  name: string;
  ns?: string;
  value: string;
  remarks?: string;
}

export interface OscalLink {
  href: string;
  rel?: string;
  text?: string;
}

export interface OscalObservation {
  uuid: string;
  title: string;
  description: string;
  props: OscalProperty[];
  methods: string[];
  types: string[];
  'relevant-evidence': { href?: string; description: string; props?: OscalProperty[] }[];
  collected: string;
  remarks?: string;
}

export interface OscalFinding {
  uuid: string;
  title: string;
  description: string;
  props?: OscalProperty[];
  links?: OscalLink[];
  target: {
    type: 'objective-id' | 'statement-id';
    'target-id': string;
    title?: string;
    status: { state: 'satisfied' | 'not-satisfied'; reason?: string; remarks?: string };
  };
  'related-observations'?: { 'observation-uuid': string }[];
  remarks?: string;
}

export interface OscalControlSelection {
  description: string;
  props?: OscalProperty[];
  'include-controls': { 'control-id': string }[];
  remarks?: string;
}

export interface OscalResource {
  uuid: string;
  title: string;
  description: string;
  props?: OscalProperty[];
  rlinks?: { href: string; 'media-type'?: string }[];
  base64?: { filename: string; 'media-type': string; value: string };
}

export interface AssessmentResultsDocument {
  'assessment-results': {
    uuid: string;
    metadata: {
      title: string;
      published: string;
      'last-modified': string;
      version: string;
      'oscal-version': string;
      props: OscalProperty[];
      remarks: string;
    };
    'import-ap': { href: string; remarks: string };
    results: {
      uuid: string;
      title: string;
      description: string;
      start: string;
      end: string;
      props: OscalProperty[];
      'reviewed-controls': { description: string; 'control-selections': OscalControlSelection[] };
      observations?: OscalObservation[];
      findings?: OscalFinding[];
      remarks?: string;
    }[];
    'back-matter': { resources: OscalResource[] };
  };
}

/** RFC 4122 name-based UUID (version 5, SHA-1), as OSCAL's UUID datatype allows. */
export function uuidV5(name: string, namespace = UUID_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const bytes = createHash('sha1').update(ns).update(name).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** OSCAL strings may not be empty or start/end with whitespace; titles are one line. */
function text(value: string | undefined, fallback: string): string {
  const t = (value ?? '').trim();
  return t === '' ? fallback : t;
}

function line(value: string | undefined, fallback: string): string {
  return text(value?.replace(/\s*\n\s*/g, ' '), fallback);
}

function prop(name: string, value: string | number | boolean): OscalProperty {
  return { name, ns: JITC_NS, value: text(String(value), '-') };
}

interface CheckRef {
  result: ScenarioResult;
  check: CheckResult;
  /** adapter/scenario/check, unique within the run. */
  key: string;
  observation: string;
}

/** A check a scenario's target could not evidence, and the observation that says so. */
interface GapRef {
  result: ScenarioResult;
  gap: NotEvidenced;
  observation: string;
}

export interface OscalOptions {
  /** Whether a file named by a relative href exists next to the document (evidence of scenarios that never ran does not). */
  exists: (href: string) => boolean;
}

export function buildAssessmentResults(results: readonly ScenarioResult[], summary: Summary, options: OscalOptions): AssessmentResultsDocument {
  const catalogue = loadCatalogue();
  const runId = summary.runId;
  const id = (kind: string): string => uuidV5(`${runId}/${kind}`);
  const ordered = orderedResults(results);
  const spans = seqSpans(results);

  // A check name may repeat within a scenario (one per handle): the repeats get a counter, so
  // every UUID stays unique and the first keeps the same UUID as ever.
  const refs: CheckRef[] = ordered.flatMap((result) =>
    result.checks.map((check, i) => {
      const repeat = result.checks.slice(0, i).filter((c) => c.name === check.name).length;
      const key = `${result.adapter}/${result.id}/${check.name}${repeat > 0 ? `#${repeat}` : ''}`;
      return { result, check, key, observation: id(`observation/${key}`) };
    }),
  );

  const evidenceOf = (result: ScenarioResult): OscalObservation['relevant-evidence'] => {
    const scenario = `${result.adapter}/${result.id}`;
    const evidence: OscalObservation['relevant-evidence'] = [];
    const file = evidenceFileOf(result);
    if (options.exists(file)) evidence.push({ href: file, description: `Redacted evidence of ${scenario}: every lifecycle event with its timestamp, the checks, metrics and teardown.` });
    const span = spans.get(scenario);
    if (span) {
      evidence.push({
        href: EVENT_LOG,
        description: `Records seq ${span.first} to ${span.last} of the hash-chained event log; manifest.json seals the log and every file of the run (check with \`jitc verify\`).`,
        props: [prop('first-seq', span.first), prop('last-seq', span.last)],
      });
    }
    if (evidence.length === 0) evidence.push({ description: 'No evidence: the scenario did not run to a result.' });
    return evidence;
  };

  /** An observation of one scenario: every one points at the same evidence of it. */
  const observe = (result: ScenarioResult, uuid: string, title: string, description: string, props: OscalProperty[]): OscalObservation => ({
    uuid,
    title: line(title, `${result.adapter}/${result.id}`),
    description,
    props,
    methods: ['TEST'],
    types: ['control-objective'],
    'relevant-evidence': evidenceOf(result),
    collected: result.finishedAt,
    ...(result.waiver ? { remarks: waiverText(result) } : {}),
  });

  const observations = refs.map(({ result, check, observation }): OscalObservation => {
    const scenario = `${result.adapter}/${result.id}`;
    return observe(result, observation, `${scenario}: ${check.title}`, text(check.detail, check.title), [
      prop('scenario', scenario),
      prop('check', check.name),
      prop('verdict', check.verdict),
      prop('severity', check.severity),
      prop('target-mode', result.target.mode),
      ...check.controls.map((c) => prop('control-id', c)),
    ]);
  });

  const gapRefs: GapRef[] = ordered.flatMap((result) =>
    notEvidencedOf(result).map((gap, i) => ({ result, gap, observation: id(`not-evidenced/${result.adapter}/${result.id}/${gap.check}${i > 0 ? `#${i}` : ''}`) })),
  );
  for (const { result, gap, observation } of gapRefs) {
    const scenario = `${result.adapter}/${result.id}`;
    const title = catalogue.checks.get(gap.check)?.title ?? gap.check;
    observations.push(
      observe(result, observation, `${scenario}: ${title} (not evidenced on this target)`, text(`Not evidenced on this target, counted neither pass nor fail: ${gap.why}`, 'Not evidenced on this target.'), [
        prop('scenario', scenario),
        prop('check', gap.check),
        prop('evidence-status', 'not-evidenced'),
        prop('target-mode', result.target.mode),
        ...gap.controls.map((c) => prop('control-id', c)),
      ]),
    );
  }

  const checkFindings = refs
    .filter(({ check }) => check.verdict !== 'pass')
    .map(({ result, check, key, observation }): OscalFinding => {
      const scenario = `${result.adapter}/${result.id}`;
      const meaning = catalogue.checks.get(check.name)?.meaning;
      return {
        uuid: id(`finding/${key}`),
        title: line(`${scenario}: ${check.title} (${check.verdict})`, scenario),
        description: [text(check.detail, check.title), meaning ? `What a ${check.verdict === 'fail' ? 'failure' : 'doubt'} here means: ${meaning}` : ''].filter(Boolean).join('\n\n'),
        props: [prop('scenario', scenario), prop('check', check.name), prop('verdict', check.verdict), prop('severity', check.severity), ...check.controls.map((c) => prop('control-id', c))],
        target: {
          type: 'objective-id',
          'target-id': check.name,
          title: line(check.title, check.name),
          status:
            check.verdict === 'fail'
              ? { state: 'not-satisfied', reason: 'fail' }
              : { state: 'not-satisfied', reason: 'other', remarks: 'Inconclusive: the harness could not prove the objective either way, and doubt is never a pass.' },
        },
        'related-observations': [{ 'observation-uuid': observation }],
        ...(result.waiver ? { remarks: waiverText(result) } : {}),
      };
    });

  const evidenced = new Set(refs.flatMap((r) => r.check.controls));
  const controls = [...catalogue.controls.values()];
  const controlFindings = controls.map((control) =>
    controlFinding(
      control,
      refs.filter((r) => r.check.controls.includes(control.id)),
      gapRefs.filter((g) => g.gap.controls.includes(control.id)),
      id(`control/${control.id}`),
    ),
  );

  const selections: OscalControlSelection[] = [];
  const covered = controls.filter((c) => evidenced.has(c.id));
  const uncovered = controls.filter((c) => !evidenced.has(c.id));
  if (covered.length > 0) {
    selections.push({ description: 'Controls of the jitc catalogue evidenced by at least one check of this run.', props: [prop('evidenced', true)], 'include-controls': covered.map((c) => ({ 'control-id': c.id })) });
  }
  if (uncovered.length > 0) {
    selections.push({
      description: 'Controls of the jitc catalogue that no check of this run evidences (their scenarios or suites were not run, or their targets could not evidence them); each has a not-satisfied finding saying so.',
      props: [prop('evidenced', false)],
      'include-controls': uncovered.map((c) => ({ 'control-id': c.id })),
    });
  }

  const catalogueResource = id('resource/control-catalogue');
  const t = summary.totals;
  return {
    'assessment-results': {
      uuid: uuidV5(`${runId}/assessment-results/${summary.finishedAt}`),
      metadata: {
        title: `jitc assessment results: run ${runId}`,
        published: summary.finishedAt,
        'last-modified': summary.finishedAt,
        version: runId,
        'oscal-version': OSCAL_VERSION,
        props: [prop('run-id', runId), ...(summary.shards ?? []).map((s) => prop('shard-run-id', s))],
        remarks: 'Generated by jitc from the redacted evidence files of the run: no secret value (token, key, password, secret_id) appears here, only accessors, key ids and fingerprints.',
      },
      'import-ap': {
        href: `#${catalogueResource}`,
        remarks: 'jitc has no separate OSCAL assessment plan: the plan is its control catalogue (embedded in back-matter) and the scenario files named in the evidence.',
      },
      results: [
        {
          uuid: id('result'),
          title: `jitc run ${runId}`,
          description: `Just-in-time privilege conformance of ${ordered.length} scenarios: each grant was checked before, during and after its task (zero standing privilege, use, end, reuse denied, no residue). ${t.pass} pass, ${t.fail} fail, ${t.inconclusive} inconclusive, ${t.waived} waived.`,
          start: summary.startedAt,
          end: summary.finishedAt,
          props: [
            prop('pass', t.pass),
            prop('fail', t.fail),
            prop('inconclusive', t.inconclusive),
            prop('waived', t.waived),
            prop('exit-code', summary.exitCode),
            prop('doubtful', summary.doubtful),
          ],
          'reviewed-controls': {
            description: 'Every control of the jitc control catalogue, split by whether this run evidenced it.',
            'control-selections': selections,
          },
          ...(observations.length > 0 ? { observations } : {}),
          ...(controlFindings.length + checkFindings.length > 0 ? { findings: [...controlFindings, ...checkFindings] } : {}),
          ...(summary.doubtful ? { remarks: 'The run as a whole is doubtful (interrupted, or a suite crashed): its verdicts are not a clean pass whatever they say.' } : {}),
        },
      ],
      'back-matter': {
        resources: [
          {
            uuid: catalogueResource,
            title: 'jitc control catalogue (scenarios/controls.yaml)',
            description: 'Every check the harness can emit, with the controls it evidences: the plan this assessment followed.',
            props: [prop('catalogue-version', catalogue.version)],
            base64: { filename: 'controls.yaml', 'media-type': 'application/yaml', value: readFileSync(CATALOGUE_PATH).toString('base64') },
          },
          {
            uuid: id('resource/manifest'),
            title: 'Seal of the run output (manifest.json)',
            description: 'sha256 of every file of the run and the head of the event chain, optionally signed (manifest.sig). `jitc verify DIR` checks it.',
            rlinks: [{ href: 'manifest.json', 'media-type': 'application/json' }],
          },
        ],
      },
    },
  };
}

function controlFinding(control: Control, refs: CheckRef[], gaps: GapRef[], uuid: string): OscalFinding {
  const count = (v: string): number => refs.filter((r) => r.check.verdict === v).length;
  const [pass, fail, inconclusive] = [count('pass'), count('fail'), count('inconclusive')];
  const scenarios = new Set(refs.map((r) => `${r.result.adapter}/${r.result.id}`)).size;
  const status: OscalFinding['target']['status'] =
    fail > 0
      ? { state: 'not-satisfied', reason: 'fail' }
      : inconclusive > 0
        ? { state: 'not-satisfied', reason: 'other', remarks: 'Some evidence is inconclusive; doubt is never a pass.' }
        : refs.length === 0
          ? { state: 'not-satisfied', reason: 'other', remarks: 'Not evidenced by any check of this run.' }
          : { state: 'satisfied', reason: 'pass' };
  const waived = refs.filter((r) => r.result.waiver && r.check.verdict === 'fail');
  const related = [...refs, ...gaps].map((r) => ({ 'observation-uuid': r.observation }));
  const remarks = [
    ...(waived.length > 0 ? [`Failures accepted by waiver (still failures): ${waived.map((r) => `${r.result.adapter}/${r.result.id} ${r.check.name} (waiver ${r.result.waiver!.id})`).join('; ')}.`] : []),
    // Neither pass nor fail: the status above is what the checks that ran say, and this what none could.
    ...(gaps.length > 0 ? [`Not evidenced on the target of ${gaps.map((g) => `${g.result.adapter}/${g.result.id} (${g.gap.check})`).join('; ')}: counted neither pass nor fail.`] : []),
  ];
  return {
    uuid,
    title: line(`${control.id}: ${control.title}`, control.id),
    description:
      refs.length === 0
        ? `No check of this run evidences ${control.id}. ${control.why}`
        : `Evidenced by ${refs.length} checks in ${scenarios} scenarios: ${pass} pass, ${fail} fail, ${inconclusive} inconclusive. ${control.why}`,
    props: [prop('framework', control.framework)],
    links: [{ href: control.url, rel: 'reference', text: line(control.title, control.id) }],
    target: { type: 'objective-id', 'target-id': control.id, title: line(control.title, control.id), status },
    ...(related.length > 0 ? { 'related-observations': related } : {}),
    ...(remarks.length > 0 ? { remarks: remarks.join(' ') } : {}),
  };
}

function waiverText(result: ScenarioResult): string {
  const w = result.waiver!;
  return `Waived by ${w.id}, accepted by ${w.acceptedBy} until ${w.expires}: ${w.justification}. A waiver accepts the gap; it does not make the check pass.`;
}

export function writeAssessmentResults(outDir: string, results: readonly ScenarioResult[], summary: Summary): void {
  const doc = buildAssessmentResults(results, summary, { exists: (href) => existsSync(join(outDir, href)) });
  writeFileSync(join(outDir, ASSESSMENT_RESULTS), `${JSON.stringify(doc, null, 2)}\n`);
}
