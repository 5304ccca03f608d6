/**
 * `jitc run --every DURATION`: continuous mode. Runs again and again into the same output
 * directory (the Allure history there turns into trends, the --metrics file is rewritten each
 * time for Prometheus) until Ctrl-C or SIGTERM, then exits with the last run's code. Each run is
 * a scheduled one: break-glass scenarios stay out unless `--break-glass` asks for them (run.ts).
 */
import { formatMs, parseDurationMs } from '../scenarios/durations.ts';
import { runCommand, type RunFlags } from './run.ts';
import { InputError } from '../scenarios/input.ts';

export async function runEvery(every: string, flags: RunFlags): Promise<number> {
  const intervalMs = parseDurationMs(every);
  if (intervalMs === undefined || intervalMs < 1000) throw new InputError(`--every: "${every}" is not a duration of at least 1s (e.g. 15m, 1h)`);
  let stopping = false;
  let wake: (() => void) | undefined;
  const stop = (): void => {
    stopping = true;
    wake?.();
  };
  let code = 0;
  for (let round = 1; !stopping; round++) {
    const started = Date.now();
    // A signal during a run is the run's to handle (teardown first); it also ends the loop.
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    code = await runCommand({ ...flags, continuous: true });
    if (stopping) break;
    const next = Math.max(0, started + intervalMs - Date.now());
    process.stderr.write(`continuous mode: run ${round} exited ${code}; next run in ${formatMs(next)} (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, next);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return code;
}
