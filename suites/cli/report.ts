/** `jitc report`: the HTML report from a run's allure-results, built offline. */
import { resolve } from 'node:path';
import { buildHtmlReport } from '../../reports/html.ts';
import { DEFAULT_OUT } from './run.ts';

export async function reportCommand(opts: { out?: string }): Promise<number> {
  const outDir = resolve(opts.out ?? DEFAULT_OUT);
  const index = await buildHtmlReport(outDir, 'jitc');
  process.stdout.write(`${index}\n`);
  return 0;
}
