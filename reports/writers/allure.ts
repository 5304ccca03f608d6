/**
 * A scenario as one Allure test: labels (epic = control, feature = adapter, story = scenario,
 * severity), links to each control's text, the lifecycle phases as steps (wrapped live by the
 * suite), one step per check, and the redacted evidence attached as JSON. A check the target
 * cannot evidence is shown too, under each of its controls: a `notEvidenced` label and tag to
 * filter on and a skipped step saying why, never a status of the test's own.
 */
import * as allure from 'allure-js-commons';
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import type { PhaseWrapper } from '../../scenarios/engine.ts';
import { loadCatalogue, type Severity } from '../../scenarios/catalogue.ts';
import { notEvidencedOf } from './summary.ts';

const ALLURE_SEVERITY: Record<Severity, string> = { critical: 'blocker', high: 'critical', medium: 'normal', low: 'minor' };

export const allurePhase: PhaseWrapper = (phase, body) => Promise.resolve(allure.step(phase, body));

/** Labels known before the run: what the scenario is. */
export async function labelScenario(scenario: Scenario, adapterTitle: string): Promise<void> {
  await allure.feature(adapterTitle);
  await allure.story(scenario.title);
  await allure.severity(ALLURE_SEVERITY[scenario.severity]);
  await allure.description(`${scenario.proves}\n\nScenario file: \`${scenario.source}\``);
  await allure.label('scenario', scenario.id);
  // Both halves, so an auditor can filter by where the grant came from as well as where it was used.
  await allure.label('grantSource', `${scenario.grant.adapter}/${scenario.grant.name}`);
  await allure.label('pointOfUse', `${scenario.use.adapter}/${scenario.use.name}`);
  // Emergency paths apart from routine JIT: their own parent suite, and a label and tag to filter on.
  if (scenario.breakGlass) {
    await allure.parentSuite('break-glass');
    await allure.label('breakGlass', 'true');
    await allure.tag('break-glass');
  }
}

const STATUS = { pass: 'passed', fail: 'failed', inconclusive: 'broken' } as const;

/** What the run established: the controls its checks evidence, each check, the evidence. */
export async function reportResult(result: ScenarioResult): Promise<void> {
  const catalogue = loadCatalogue();
  const gaps = notEvidencedOf(result);
  // A control only a gap names is listed too: filtered by control, the auditor must find the gap.
  for (const id of new Set([...result.controls, ...gaps.flatMap((g) => g.controls)])) {
    const control = catalogue.controls.get(id);
    if (!control) continue;
    await allure.epic(`${id} ${control.title}`);
    await allure.link(control.url, `${id}: ${control.title}`);
  }
  // A local or container target is a new server on a new port each run: its address must not
  // take part in the test's history id, or every run would start the scenario's history afresh.
  await allure.parameter('target', `${result.target.mode} ${result.target.address}`, { excluded: result.target.mode !== 'external' });
  await allure.parameter('run', result.runId, { excluded: true });
  for (const check of result.checks) {
    const remedy = check.verdict !== 'pass' && check.remediation ? ` — to fix: ${check.remediation}` : '';
    await allure.logStep(`check ${check.name} — ${check.verdict}: ${check.detail}${remedy}`, STATUS[check.verdict] as allure.Status);
  }
  for (const gap of gaps) {
    await allure.label('notEvidenced', gap.check);
    await allure.logStep(`check ${gap.check} — not evidenced on this target (${gap.controls.join(', ')}): ${gap.why}`, 'skipped' as allure.Status);
  }
  if (gaps.length > 0) await allure.tag('not-evidenced');
  if (result.waiver) {
    await allure.tag('waived');
    await allure.attachment('waiver.json', JSON.stringify(result.waiver, null, 2), 'application/json');
  }
  await allure.attachment('evidence.json', JSON.stringify(result, null, 2), 'application/json');
}
