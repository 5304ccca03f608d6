/**
 * The command line's defaults, apart from the commands that use them: the help text quotes them,
 * and `jitc --help` must not load a command's modules (and the client libraries behind them) to say
 * what its defaults are.
 */
import type { DiscoveryPolicy } from '../adapters/contract.ts';

/** Where a run in the project writes its outputs when neither --out nor the config says. */
export const DEFAULT_OUT = 'reports/out';

/** The most scenarios run at once per suite: the one bound for --concurrency and the config's `concurrency:`. */
export const MAX_CONCURRENCY = 1000;

/**
 * The organisation's bounds `jitc discover` judges existing roles by, when the config states none:
 * an approval window of one hour, and five minutes a generated scenario may wait for an expiry.
 */
export const DEFAULT_POLICY: DiscoveryPolicy = { maxWindowSeconds: 3600, maxWaitSeconds: 300 };

/** `jitc history`'s default window: enough runs for a p95 to mean something, few enough to read. */
export const DEFAULT_LAST = 20;
