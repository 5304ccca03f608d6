/**
 * Sharded runs and their merge. Each shard (`jitc run --shard i/n`) records in its summary which
 * part it is and the whole plan it is part of (every planned scenario before sharding, and a
 * digest of that list). A merge accepts a sharded run only whole: every part 1..n of the plan
 * exactly once, and together holding a result for every planned scenario and nothing else.
 * A merge missing a shard would report the other shards' verdicts as the run's: never conformant.
 */
import { sha256Hex } from '../ledger/event-log.ts';
import type { ShardRecord } from '../writers/summary.ts';
import { InputError } from '../../scenarios/input.ts';

/** sha256 over the planned scenarios (adapter/id), one a line, sorted: shards of one run share it. */
export function planDigest(planned: readonly string[]): string {
  return sha256Hex([...planned].sort().map((p) => `${p}\n`).join(''));
}

export interface ShardSource {
  dir: string;
  shard: ShardRecord;
  /** adapter/id of every result the shard holds. */
  results: string[];
}

const short = (plan: string): string => `sha256:${plan.slice(0, 12)}…`;

/** Throws InputError naming the first incomplete, repeated or inconsistent shard set. */
export function checkShardSets(sources: readonly ShardSource[]): void {
  const groups = new Map<string, ShardSource[]>();
  for (const s of sources) {
    if (planDigest(s.shard.planned) !== s.shard.plan) throw new InputError(`${s.dir}: summary.json: shard.plan does not match the planned scenarios it lists`);
    const key = `${s.shard.plan}:${s.shard.count}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const group of groups.values()) {
    const { count, plan, planned } = group[0]!.shard;
    const byIndex = new Map<number, string>();
    for (const s of group) {
      const other = byIndex.get(s.shard.index);
      if (other !== undefined) throw new InputError(`${s.dir}: shard ${s.shard.index}/${count} of plan ${short(plan)} is given twice (also ${other})`);
      byIndex.set(s.shard.index, s.dir);
    }
    const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
    if (missing.length > 0) {
      const have = [...byIndex.entries()].sort(([a], [b]) => a - b).map(([i, dir]) => `${i}/${count} from ${dir}`);
      throw new InputError(`shard ${missing.map((i) => `${i}/${count}`).join(', ')} of plan ${short(plan)} is missing (merging ${have.join(', ')}); a sharded run is merged whole or not at all`);
    }
    const held = new Set(group.flatMap((s) => s.results));
    const absent = planned.filter((p) => !held.has(p));
    if (absent.length > 0) throw new InputError(`${absent[0]} is in the plan ${short(plan)} of the sharded run but no shard holds its result${absent.length > 1 ? ` (nor of ${absent.length - 1} more)` : ''}`);
    for (const s of group) {
      const extra = s.results.find((r) => !planned.includes(r));
      if (extra !== undefined) throw new InputError(`${s.dir}: ${extra} is not in the plan ${short(plan)} the shard belongs to`);
    }
  }
}
