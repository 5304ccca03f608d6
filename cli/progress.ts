/**
 * What the terminal shows while scenarios wait: for each scenario waiting on an expiry, what it
 * waits for and how long is left (one line a second at most per scenario), and each verdict as it
 * lands. Goes to stderr, so stdout stays the table and the closing line.
 */
import { formatMs } from '../scenarios/durations.ts';
import type { RunMessage } from '../suites/channel.ts';

export function progressPrinter(write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): (m: RunMessage) => void {
  const lastShown = new Map<string, number>();
  return (message) => {
    if (message.type === 'wait') {
      const now = Date.now();
      if (now - (lastShown.get(message.scenario) ?? 0) < 950) return;
      lastShown.set(message.scenario, now);
      write(`  waiting: ${message.what} — ${formatMs(message.msLeft)} left`);
    } else if (message.type === 'finished') {
      write(`  ${message.verdict.toUpperCase().padEnd(12)} ${message.scenario}`);
    }
  };
}
