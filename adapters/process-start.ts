/**
 * Telling a live process from a recycled pid: the boot id and the start time the kernel records
 * for it. Servers jitc started and the output directory's lock are both checked this way before a
 * pid is trusted (signalled, or taken over).
 */
import { readFileSync } from 'node:fs';

let bootId: string | undefined;

/** Boot id and start time (clock ticks after boot) of a running process; undefined once it has exited or on a system without /proc. */
export function processStart(pid: number): string | undefined {
  try {
    bootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after "(comm)" (which may hold spaces and parentheses): state first, start time 20th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie has exited; only its parent's wait, which may never come for an orphan, is missing.
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return `${bootId}/${fields[19]}`;
  } catch {
    return undefined;
  }
}
