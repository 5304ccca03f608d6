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
 * Scenarios run at once per suite when neither --concurrency nor the config says (`npm run
 * bench:concurrency`, README "Scale"): 64 copies of a 3 s-TTL scenario took 64.0 s at 8, 36.0 s at
 * 16 and 14.6 s at 64, every one passing, the harness's worst issue → first use 214 ms; every
 * built-in suite (a dozen scenarios at most) runs whole at once with the same verdicts as at 4. The
 * admission scheduler, not this number, keeps grants usable; a target with a strict request rate
 * limit takes a lower one.
 */
export const DEFAULT_CONCURRENCY = 64;

/**
 * The organisation's bounds `jitc discover` judges existing roles by, when the config states none:
 * an approval window of one hour, and five minutes a generated scenario may wait for an expiry.
 */
export const DEFAULT_POLICY: DiscoveryPolicy = { maxWindowSeconds: 3600, maxWaitSeconds: 300 };

/** `jitc history`'s default window: enough runs for a p95 to mean something, few enough to read. */
export const DEFAULT_LAST = 20;
