/**
 * The HTML report, built offline by the `allure` npm package (Allure 3, no Java) from the run's
 * allure-results into <out>/html/index.html.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InputError } from '../../scenarios/input.ts';

/**
 * Run the generator in a process group of its own: a Ctrl-C at the terminal signals jitc's whole
 * group, and one press while the reports are written must let them finish (jitc answers it). A
 * press that lands while the child is still being forked (before it has its own group) ends it
 * with SIGINT: it is run once more. If jitc exits first (a second press), the generator is
 * stopped with it.
 */
async function generate(args: string[], cwd: string): Promise<void> {
  try {
    await generateOnce(args, cwd);
  } catch (error) {
    if (!(error instanceof Interrupted)) throw error;
    await generateOnce(args, cwd);
  }
}

/** The generator ended by the terminal's interrupt, not by a failure of its own. */
class Interrupted extends Error {}

function generateOnce(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, NO_COLOR: '1', CI: 'true' }, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    const stopWithUs = (): void => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    };
    process.on('exit', stopWithUs);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += chunk.toString('utf8');
    });
    child.on('error', (error) => {
      process.off('exit', stopWithUs);
      reject(error);
    });
    child.on('close', (code, signal) => {
      process.off('exit', stopWithUs);
      if (code === 0) resolve();
      else if (signal === 'SIGINT') reject(new Interrupted('allure generate was interrupted'));
      else reject(new Error(`allure generate ended with ${signal ?? `exit code ${code}`}: ${stderr.trim().split('\n').at(-1) ?? ''}`));
    });
  });
}

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
  await generate([allureCli(), 'generate', results, '--config', config, '--output', html, '--name', name], outDir);
  const index = join(html, 'index.html');
  if (!existsSync(index)) throw new Error(`allure generate wrote no ${index}`);
  return index;
}
