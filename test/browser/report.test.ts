/**
 * The HTML report as an auditor sees it: a real `jitc run --html` opened in headless Chromium over
 * loopback HTTP. The scenarios are listed, grouped by the controls they evidence (Allure epics),
 * and a scenario opened from a control shows its evidence record as attached, matching the
 * evidence file on disk. Screenshots stay in reports/out/test-screenshots/ (git-ignored).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadCatalogue } from '../../scenarios/catalogue.ts';
import type { Summary } from '../../reports/writers/summary.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { jitc } from '../support/cli.ts';
import { ensureChromium, launchChromium } from './chromium.ts';
import { serveDirectory, type StaticServer } from './static-server.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

// Kept for a reader of the test run, outside reports/out: that is jitc's own output directory, which a
// later `jitc run` must find empty or its own.
const SCREENSHOTS = join(PROJECT_ROOT, '.jitc', 'test-screenshots');
const SCENARIOS = ['token-revoke-at-task-end', 'child-token-cascade'];
const CONTROL = 'NIST-CSF-PR.AC-4';
const ADAPTER_TITLE = 'HashiCorp Vault / OpenBao';

const log = (line: string): void => console.log(`[report.test] ${line}`);

/** A tree group: its header row and, beside it, the content it folds. */
function group(page: Page, scope: Page | Locator, title: string): { header: Locator; content: Locator } {
  // A `has` locator is matched inside each candidate, so it is built from the page, not the scope.
  const header = scope.locator('[data-testid="tree-section"]', { has: page.locator('[data-testid="tree-section-title"]', { hasText: title }) }).first();
  return { header, content: header.locator('xpath=..').locator(':scope > [data-testid="tree-content"]') };
}

async function expand(g: { header: Locator; content: Locator }): Promise<void> {
  if (!(await g.content.isVisible())) await g.header.locator('[data-testid="tree-section-title"]').click();
  await expect.poll(() => g.content.isVisible()).toBe(true);
}

describe('the Allure report in headless Chromium', () => {
  const out = mkdtempSync(join(tmpdir(), 'jitc-browser-report-'));
  let summary: Summary;
  let server: StaticServer | undefined;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  let page: Page;
  const blocked: string[] = [];

  beforeAll(async () => {
    ensureChromium(log);
    const run = jitc(['run', '--suite', 'vault', '--scenario', SCENARIOS.join(','), '--out', out, '--html', '--history', join(out, 'history.sqlite')]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    server = await serveDirectory(join(out, 'html'));
    ({ context, profile } = await launchChromium());
    // The report is self-contained; anything it tries beyond loopback (analytics) is refused.
    await context.route('**/*', (route) => {
      if (new URL(route.request().url()).hostname === '127.0.0.1') return route.continue();
      blocked.push(route.request().url());
      return route.abort();
    });
    page = await context.newPage();
    await page.goto(server.url);
    mkdirSync(SCREENSHOTS, { recursive: true });
    log(`report of run ${summary.runId} served at ${server.url}; screenshots in ${SCREENSHOTS}`);
  }, 900_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (blocked.length > 0) log(`requests beyond loopback refused: ${[...new Set(blocked)].join(', ')}`);
  });

  test('the tree is the control view: every control the scenarios evidence is a group', async () => {
    const catalogue = loadCatalogue();
    const controls = [...new Set(summary.scenarios.flatMap((s) => s.controls))];
    expect(controls).toContain(CONTROL);
    for (const id of controls) {
      const title = `${id} ${catalogue.controls.get(id)!.title}`;
      await expect.poll(() => group(page, page, title).header.isVisible(), { message: title }).toBe(true);
    }
    await expect.poll(() => page.getByTestId('report-title').innerText()).toBe(`jitc run ${summary.runId}`);
  });

  test(`the scenarios are listed under ${CONTROL}, by adapter`, async () => {
    const control = group(page, page, `${CONTROL} `);
    await expand(control);
    const adapter = group(page, control.content, ADAPTER_TITLE);
    await expand(adapter);
    const leaves = adapter.content.locator('[data-testid="tree-leaf-title"]');
    await expect.poll(() => leaves.allInnerTexts()).toEqual(expect.arrayContaining(SCENARIOS));
    const file = join(SCREENSHOTS, 'report-control-view.png');
    await page.screenshot({ path: file, fullPage: true });
    log(`control view: ${file}`);
  });

  test('a scenario opened from the control shows its checks and the attached evidence record', async () => {
    const scenario = SCENARIOS[0]!;
    const adapter = group(page, group(page, page, `${CONTROL} `).content, ADAPTER_TITLE);
    await adapter.content.locator('[data-testid="tree-leaf-title"]', { hasText: scenario }).first().click();
    await expect.poll(() => page.getByTestId('test-result-info-title').innerText()).toBe(scenario);
    const steps = await page.getByTestId('test-result-step-title').allInnerTexts();
    const expected = summary.scenarios.find((s) => s.id === scenario)!;
    for (const c of expected.checks) expect(steps).toContain(`check ${c.name} — ${c.verdict}: ${c.detail}`);

    const attachment = page.getByTestId('test-result-attachment').filter({ hasText: 'evidence.json' }).first();
    await attachment.getByTestId('test-result-attachment-header').click();
    await expect.poll(() => attachment.innerText()).toContain(`"runId": "${summary.runId}"`);
    await attachment.scrollIntoViewIfNeeded();
    const file = join(SCREENSHOTS, 'report-evidence-attachment.png');
    await page.screenshot({ path: file, fullPage: true });
    log(`evidence attachment: ${file}`);

    // What the page shows is the record in the run's evidence file.
    const shown = await attachment.innerText();
    const record = JSON.parse(shown.slice(shown.indexOf('{'))) as ScenarioResult;
    const onDisk = JSON.parse(readFileSync(join(out, expected.evidence), 'utf8')) as ScenarioResult;
    expect(record.id).toBe(scenario);
    expect(record.runId).toBe(onDisk.runId);
    expect(record.issued?.credentialId).toBe(onDisk.issued?.credentialId);
    expect(record.checks.map((c) => `${c.name}:${c.verdict}`)).toEqual(onDisk.checks.map((c) => `${c.name}:${c.verdict}`));
    expect(record.evidence.map((e) => e.at)).toEqual(onDisk.evidence.map((e) => e.at));
  });
});
