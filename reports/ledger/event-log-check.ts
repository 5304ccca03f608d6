/**
 * Checking events.jsonl: every finding names the record (seq and line) and says what was done to
 * it — edited, removed, moved, inserted — so an auditor can go straight to it.
 */
import { canonicalJson, EVENT_LOG, GENESIS, recordHash, type EventEntry, type EventRecord } from './event-log.ts';

export interface Problem {
  /** The file or record the problem is about: "events.jsonl record seq 12", "summary.json". */
  subject: string;
  problem: string;
}

interface Line {
  line: number;
  record: EventRecord;
}

const HEX64 = /^[0-9a-f]{64}$/;

function isRecord(value: unknown): value is EventRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const r = value as Record<string, unknown>;
  return (
    Number.isInteger(r.seq) &&
    (r.seq as number) >= 0 &&
    typeof r.prev === 'string' &&
    typeof r.hash === 'string' &&
    typeof r.scenario === 'string' &&
    typeof r.at === 'string' &&
    typeof r.event === 'string'
  );
}

function parseLines(text: string, problems: Problem[]): Line[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const parsed: Line[] = [];
  lines.forEach((raw, i) => {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      problems.push({ subject: `${EVENT_LOG} line ${i + 1}`, problem: 'is not a JSON record (edited or truncated)' });
      return;
    }
    if (!isRecord(value)) problems.push({ subject: `${EVENT_LOG} line ${i + 1}`, problem: 'is not an event record (seq, prev, hash, scenario, at, event missing or mistyped)' });
    else parsed.push({ line: i + 1, record: value });
  });
  return parsed;
}

function name(l: Line): string {
  return `${EVENT_LOG} record seq ${l.record.seq} (line ${l.line})`;
}

function describe(r: EventRecord): string {
  return `${r.scenario}: "${r.event}"`;
}

/** Indexes (into `seqs`) of one longest strictly increasing run: the records that stayed in place. */
function inPlace(seqs: number[]): Set<number> {
  const tails: number[] = [];
  const before: number[] = new Array<number>(seqs.length).fill(-1);
  seqs.forEach((s, i) => {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqs[tails[mid]!]! < s) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) before[i] = tails[lo - 1]!;
    tails[lo] = i;
  });
  const kept = new Set<number>();
  for (let i = tails.at(-1) ?? -1; i >= 0; i = before[i]!) kept.add(i);
  return kept;
}

function ranges(numbers: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < numbers.length; i++) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    parts.push(i === j ? `${numbers[i]}` : `${numbers[i]}–${numbers[j]}`);
    i = j;
  }
  return parts.join(', ');
}

export interface SealedLog {
  records: number;
  head: string;
}

/**
 * Checks the chain in `text`. `sealed` is what the manifest recorded (catches records cut from the
 * end, which leave a valid but shorter chain); `expected` are the entries the evidence files hold
 * (catches a log that no longer says what the evidence says).
 */
export function checkEventLog(text: string, sealed: SealedLog | undefined, expected?: EventEntry[]): Problem[] {
  const problems: Problem[] = [];
  const lines = parseLines(text, problems);

  // Edited: the content no longer hashes to the hash the record carries.
  for (const l of lines) {
    if (!HEX64.test(l.record.hash) || recordHash(l.record) !== l.record.hash) {
      problems.push({ subject: name(l), problem: `edited: its content no longer matches its hash (${describe(l.record)})` });
    }
  }

  // Duplicated or inserted seq numbers.
  const bySeq = new Map<number, Line>();
  for (const l of lines) {
    const other = bySeq.get(l.record.seq);
    if (other) problems.push({ subject: name(l), problem: `duplicates seq ${l.record.seq} of line ${other.line} (a record was inserted or copied)` });
    else bySeq.set(l.record.seq, l);
  }

  // Removed: a gap in the sequence, or fewer records than were sealed.
  const last = Math.max(-1, ...bySeq.keys(), (sealed?.records ?? 0) - 1);
  const missing: number[] = [];
  for (let s = 0; s <= last; s++) if (!bySeq.has(s)) missing.push(s);
  if (missing.length > 0) {
    const beyond = sealed && missing.every((s) => s >= Math.max(-1, ...bySeq.keys()));
    problems.push({
      subject: `${EVENT_LOG} record seq ${ranges(missing)}`,
      problem: beyond ? `removed from the end of the log (the manifest sealed ${sealed.records} records)` : 'removed: the sequence has a gap there',
    });
  }
  if (sealed && bySeq.size > 0 && Math.max(...bySeq.keys()) >= sealed.records) {
    const extra = [...bySeq.keys()].filter((s) => s >= sealed.records).sort((a, b) => a - b);
    problems.push({ subject: `${EVENT_LOG} record seq ${ranges(extra)}`, problem: `added after sealing (the manifest sealed ${sealed.records} records)` });
  }

  // Reordered: the records outside the longest in-order run are the ones that were moved.
  const seqs = lines.map((l) => l.record.seq);
  const kept = inPlace(seqs);
  lines.forEach((l, i) => {
    if (!kept.has(i)) problems.push({ subject: name(l), problem: `out of order: moved from its place in the sequence (${describe(l.record)})` });
  });

  // Links: each record must point at the hash of the record before it. A record whose own hash is
  // intact but whose predecessor's hash changed means the predecessor was rewritten with a fresh hash.
  for (const [seq, l] of bySeq) {
    const expectedPrev = seq === 0 ? GENESIS : bySeq.get(seq - 1)?.record.hash;
    if (expectedPrev === undefined || l.record.prev === expectedPrev) continue;
    const before = bySeq.get(seq - 1);
    problems.push(
      before
        ? { subject: name(before), problem: `rewritten: record seq ${seq} chains to a different hash than this record now carries (${describe(before.record)})` }
        : { subject: name(l), problem: 'does not start the chain: its prev is not the genesis value' },
    );
  }

  // Head: the chain must end where the manifest says it ended.
  if (sealed) {
    const tail = bySeq.get(sealed.records - 1);
    if (sealed.records === 0 && lines.length === 0) {
      // An empty run: nothing to chain.
    } else if (tail && tail.record.hash !== sealed.head) {
      problems.push({ subject: name(tail), problem: `is not the head the manifest sealed (${sealed.head.slice(0, 16)}…): the chain was rebuilt` });
    }
  }

  // The log must say what the evidence files say. Only meaningful on an intact chain; otherwise
  // every shifted record would be reported twice.
  if (expected && problems.length === 0) problems.push(...compareWithEvidence(lines, expected));
  return problems;
}

function compareWithEvidence(lines: Line[], expected: EventEntry[]): Problem[] {
  const problems: Problem[] = [];
  const n = Math.max(lines.length, expected.length);
  for (let i = 0; i < n; i++) {
    const l = lines[i];
    const e = expected[i];
    if (!e) {
      problems.push({ subject: name(l!), problem: `has no event in the evidence files (${describe(l!.record)})` });
      continue;
    }
    const subject = `${e.evidence} event ${e.index}`;
    if (!l) {
      problems.push({ subject, problem: `is not in ${EVENT_LOG} ("${e.event}")` });
      continue;
    }
    const { seq: _s, prev: _p, hash: _h, ...entry } = l.record;
    if (canonicalJson(entry) !== canonicalJson(e)) problems.push({ subject, problem: `differs from ${EVENT_LOG} record seq ${l.record.seq} ("${e.event}"): the evidence file or the log was changed` });
  }
  return problems;
}
