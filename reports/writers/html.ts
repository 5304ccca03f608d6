/**
 * The HTML report, built offline by the `allure` npm package (Allure 3, no Java) from the run's
 * allure-results into <out>/html/index.html.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { InputError } from '../../scenarios/input.ts';

const run = promisify(execFile);

/** The package's bin script (its exports map hides package.json, so go from its main entry). */
function allureCli(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('allure')), '..', 'cli.js');
}

export async function buildHtmlReport(outDir: string, name: string): Promise<string> {
  const results = join(outDir, 'allure-results');
  if (!existsSync(results)) throw new InputError(`${results} does not exist: run \`jitc run --out ${outDir}\` first`);
  const html = join(outDir, 'html');
  // History lives beside the run outputs and survives later runs into the same dir: trends.
  mkdirSync(join(outDir, 'history'), { recursive: true });
  const config = join(outDir, 'history', 'allurerc.json');
  // The tree groups by control (epic), then adapter (feature): the auditor's way in, from a
  // control to the scenarios evidencing it; a scenario appears under every control it evidences.
  const awesome = { options: { groupBy: ['epic', 'feature'] } };
  writeFileSync(config, JSON.stringify({ name, historyPath: join(outDir, 'history', 'allure-history.jsonl'), plugins: { awesome } }, null, 2));
  await run(process.execPath, [allureCli(), 'generate', results, '--config', config, '--output', html, '--name', name], {
    cwd: outDir,
    env: { ...process.env, NO_COLOR: '1', CI: 'true' },
    maxBuffer: 32 * 1024 * 1024,
  });
  const index = join(html, 'index.html');
  if (!existsSync(index)) throw new Error(`allure generate wrote no ${index}`);
  return index;
}
