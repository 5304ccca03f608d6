/** Durations in scenario files: a number of seconds, or a string such as "3s", "500ms", "15m". */
import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** A zod field that accepts 3, "3s", "500ms" and yields seconds (fractions allowed). */
export const seconds = z
  .union([z.number().nonnegative(), z.string()], { error: 'expected a duration: seconds as a number, or a string such as "3s", "500ms", "15m"' })
  .transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const ms = parseDurationMs(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use 3, "3s", "500ms", "15m")` });
    return z.NEVER;
  }
  return ms / 1000;
});

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}
