/**
 * The run history from the command line: where it lives (--history, the config's `history:`, or
 * the local state's default, adapters/paths.ts: `.jitc/history.sqlite` in a checkout), recording a
 * run into it at the end of `jitc run` and `jitc merge`, and `jitc history` showing the trends.
 */
import { resolve } from 'node:path';
import { localState } from '../adapters/paths.ts';
import { recordedRun, type RecordedRun } from '../reports/history/record.ts';
import { checkHistoryFile, loadHistory, recordRun } from '../reports/history/store.ts';
import type { Summary } from '../reports/writers/summary.ts';
import { computeTrends } from '../reports/history/trends.ts';
import { renderTrends } from '../reports/history/trends-text.ts';
import type { ScenarioResult } from '../scenarios/result.ts';
import { loadConfig } from './config.ts';
import { DEFAULT_LAST } from './defaults.ts';
import { displayPath, PROJECT_ROOT, errorText } from '../scenarios/input.ts';

/** Beside the local targets (`.jitc/` in a checkout, git-ignored: a developer's own runs). */
export const DEFAULT_HISTORY = localState(PROJECT_ROOT).history;

/** --history beats the config file's `history:`, which beats the project default. */
export function historyFile(flag: string | undefined, configFile: string | undefined): string {
  return resolve(flag ?? loadConfig(configFile).history ?? DEFAULT_HISTORY);
}

/** Resolved and checked before anything starts: a history file that is not ours is bad input. */
export async function plannedHistory(flag: string | undefined, configFile: string | undefined): Promise<string> {
  const file = historyFile(flag, configFile);
  await checkHistoryFile(file);
  return file;
}

/**
 * Records the run. The run's verdict does not depend on its history: a history that cannot be
 * written (lock held too long, disk full) is reported on stderr and the exit code stays the run's.
 */
export async function recordInHistory(
  file: string,
  summary: Summary,
  results: readonly ScenarioResult[],
  source: RecordedRun['source'],
  log: (line: string) => void,
): Promise<void> {
  try {
    await recordRun(file, recordedRun(summary, results, source));
    log(`history: run ${summary.runId} recorded in ${displayPath(file)} (trends: jitc history)`);
  } catch (error) {
    log(`history: run ${summary.runId} NOT recorded in ${displayPath(file)}: ${errorText(error)}`);
  }
}

export interface HistoryFlags {
  history?: string;
  config?: string;
  last?: number;
  json?: boolean;
}

export async function historyCommand(flags: HistoryFlags): Promise<number> {
  const file = historyFile(flags.history, flags.config);
  const loaded = await loadHistory(file, flags.last ?? DEFAULT_LAST);
  const trends = computeTrends(loaded.runs, loaded.totalRuns);
  const text = flags.json ? `${JSON.stringify({ file, ...trends }, null, 2)}\n` : renderTrends(trends, displayPath(file));
  // The CLI exits right after; a pipe takes large output asynchronously, so wait until it is flushed.
  await new Promise<void>((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
  return 0;
}
