/**
 * events.jsonl: every evidence event of every scenario of a run, one JSON record a line, bound into
 * a hash chain. Each record carries its sequence number, the hash of the record before it and its
 * own sha256 over a canonical serialisation, so an edited, removed, inserted or reordered record
 * shows up at the exact record, not just as "the file changed".
 *
 * The canonical serialisation is JSON with object keys sorted and no whitespace (the shape of
 * RFC 8785 for the values evidence holds), so a reviewer can recompute a record's hash without jitc:
 * `jq -cjS 'del(.hash)' <<< "$line" | sha256sum`.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import type { EvidenceEvent, Phase } from '../../scenarios/evidence.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';

export const EVENT_LOG = 'events.jsonl';
export const EVENT_LOG_FORMAT = 'jitc-event-log/1';
/** The `prev` of the first record: nothing precedes it. */
export const GENESIS = '0'.repeat(64);

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Keys sorted by code unit (not locale) so every platform serialises a record identically. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** What a record says about one evidence event, before it is chained. */
export interface EventEntry {
  /** Run id of the scenario's own run (a merged report holds several). */
  run: string;
  /** adapter/scenario id. */
  scenario: string;
  /** The evidence file the event comes from, relative to the output dir. */
  evidence: string;
  /** Position of the event in that file's evidence list. */
  index: number;
  at: string;
  phase: Phase;
  event: string;
  data?: Record<string, unknown>;
}

export interface EventRecord extends EventEntry {
  seq: number;
  prev: string;
  hash: string;
}

export function evidenceFileOf(result: Pick<ScenarioResult, 'adapter' | 'id'>): string {
  return `evidence/${result.adapter}.${result.id}.json`;
}

/**
 * The deterministic order of the log: scenarios by adapter then id, and each scenario's events in
 * the order the engine recorded them (not re-sorted by timestamp: an event recorded with an earlier
 * explicit time, such as a child token made during use, keeps its place in the timeline as written).
 */
export function orderedResults<T extends Pick<ScenarioResult, 'adapter' | 'id'>>(results: readonly T[]): T[] {
  const key = (r: T): string => `${r.adapter}\u0000${r.id}`;
  return [...results].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

export function entriesOf(results: readonly ScenarioResult[]): EventEntry[] {
  return orderedResults(results).flatMap((r) => r.evidence.map((e, index) => entryOf(r, e, index)));
}

function entryOf(result: ScenarioResult, e: EvidenceEvent, index: number): EventEntry {
  return {
    run: result.runId,
    scenario: `${result.adapter}/${result.id}`,
    evidence: evidenceFileOf(result),
    index,
    at: e.at,
    phase: e.phase,
    event: e.event,
    ...(e.data !== undefined ? { data: e.data } : {}),
  };
}

/** The first and last seq of each scenario's records, for pointers from other reports. */
export function seqSpans(results: readonly ScenarioResult[]): Map<string, { first: number; last: number }> {
  const spans = new Map<string, { first: number; last: number }>();
  let seq = 0;
  for (const r of orderedResults(results)) {
    if (r.evidence.length > 0) spans.set(`${r.adapter}/${r.id}`, { first: seq, last: seq + r.evidence.length - 1 });
    seq += r.evidence.length;
  }
  return spans;
}

/** The hash a record must carry: over everything in it except the hash itself. */
export function recordHash(record: Omit<EventRecord, 'hash'> | EventRecord): string {
  const { hash: _ignored, ...body } = record as EventRecord;
  return sha256Hex(canonicalJson(body));
}

/**
 * Writer of the log. Records are only ever appended (the file is opened for appending and never
 * rewritten), each bound to the one before it; `head` is the hash of the last record.
 */
export class EventLog {
  #seq = 0;
  #head = GENESIS;

  private constructor(private readonly file: string) {}

  /** Starts a new log; refuses to append to one that exists (a run has one log, written once). */
  static create(file: string): EventLog {
    closeSync(openSync(file, 'wx'));
    return new EventLog(file);
  }

  get head(): string {
    return this.#head;
  }

  get records(): number {
    return this.#seq;
  }

  append(entry: EventEntry): EventRecord {
    const body = { ...entry, seq: this.#seq, prev: this.#head };
    const record: EventRecord = { ...body, hash: recordHash(body) };
    appendFileSync(this.file, `${canonicalJson(record)}\n`);
    this.#seq += 1;
    this.#head = record.hash;
    return record;
  }
}
