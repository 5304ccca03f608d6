/**
 * The names jitc keeps in an output directory for itself, beside the run's outputs: they are not
 * outputs of any run, so they are never sealed, never listed as foreign, and never merged.
 * - `.jitc-out` marks the directory as jitc's (written by the first run into it);
 * - `.jitc-out.lock` names the run writing into it now (one at a time);
 * - `.jitc-staging/` is where a run writes before its outputs replace the previous ones;
 * - `.jitc-commit/` is a complete, sealed staging being moved into place (a crash there is
 *   finished by the next run into the directory).
 * See docs/architecture.md and the README, "What a run produces".
 */
export const OUT_MARKER = '.jitc-out';
export const OUT_LOCK = '.jitc-out.lock';
export const STAGING = '.jitc-staging';
export const COMMITTING = '.jitc-commit';
export const BOOKKEEPING: readonly string[] = [OUT_MARKER, OUT_LOCK, STAGING, COMMITTING];
