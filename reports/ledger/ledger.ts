/**
 * Sealing a run's output dir and checking a seal. Sealing runs last, after every report (HTML
 * included) is written: it chains the evidence events into events.jsonl, digests every file into
 * manifest.json and, with a key, signs the manifest. Checking names each record or file that no
 * longer matches, so tampering is a finding an auditor can point at.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { readEvidence } from '../outputs/artifacts.ts';
import { checkEventLog, type Problem } from './event-log-check.ts';
import { entriesOf, EVENT_LOG, EVENT_LOG_FORMAT, EventLog, type EventEntry } from './event-log.ts';
import { digestFile, digestFiles, listEntries, MANIFEST, MANIFEST_FORMAT, manifestDigest, manifestSchema, renderManifest, SIGNATURE, type EntryKind, type FileDigest, type Manifest } from './manifest.ts';
import { COMMITTING } from '../outputs/out-layout.ts';
import { ASSESSMENT_RESULTS } from '../writers/oscal.ts';
import { loadSigningKey, loadVerifyKey, signBytes, verifyBytes } from './signing.ts';
import { InputError } from '../../scenarios/input.ts';

export type { Problem } from './event-log-check.ts';

/**
 * The top-level names of a run's outputs. A file under one of them that the manifest does not list
 * was added after sealing (a finding); anything under another name is foreign to the run.
 */
export const OUTPUT_NAMES: readonly string[] = ['allure-results', 'evidence', 'html', 'history', 'summary.json', 'summary.md', 'junit.xml', ASSESSMENT_RESULTS, EVENT_LOG, MANIFEST, SIGNATURE];

/** evidence/<adapter>.<scenario>.json: one scenario's result. */
export function isEvidencePath(path: string): boolean {
  return /^evidence\/[^/]+\.json$/.test(path);
}

function runIdOf(outDir: string, results: ScenarioResult[]): string {
  try {
    const summary = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as { runId?: unknown };
    if (typeof summary.runId === 'string') return summary.runId;
  } catch {
    // No summary: fall back to the evidence.
  }
  return [...new Set(results.map((r) => r.runId))].join('+') || 'unknown';
}

/**
 * Seals `outDir` and returns one line saying what was sealed. The key is read before anything is
 * written, so a bad key leaves the dir as it was (and the caller's bad-input exit code).
 */
export function sealRun(outDir: string, options: { signKey?: string | undefined } = {}): string {
  const signer = options.signKey ? loadSigningKey(options.signKey) : undefined;
  for (const file of [EVENT_LOG, MANIFEST, SIGNATURE]) rmSync(join(outDir, file), { force: true });
  const results = readEvidence(outDir);
  const log = EventLog.create(join(outDir, EVENT_LOG));
  for (const entry of entriesOf(results)) log.append(entry);
  const files = digestFiles(outDir);
  const text = renderManifest({
    format: MANIFEST_FORMAT,
    runId: runIdOf(outDir, results),
    sealedAt: new Date().toISOString(),
    eventLog: { file: EVENT_LOG, format: EVENT_LOG_FORMAT, records: log.records, head: log.head },
    files,
    ...(signer ? { signature: { file: SIGNATURE, algorithm: signer.algorithm, publicKeySha256: signer.publicKeySha256 } } : {}),
  });
  writeFileSync(join(outDir, MANIFEST), text);
  if (signer) writeFileSync(join(outDir, SIGNATURE), signBytes(Buffer.from(text), signer));
  const signed = signer ? `, signed (${signer.algorithm}, key sha256:${signer.publicKeySha256.slice(0, 16)}…)` : '';
  return `sealed: ${MANIFEST} (${files.length} files, ${log.records} event records, chain head ${log.head.slice(0, 16)}…)${signed}`;
}

export interface VerifyReport {
  dir: string;
  problems: Problem[];
  /** What was checked, for the intact message and for auditors reading the output. */
  notes: string[];
  /** Entries jitc did not write (not sealed, never read), with their kind: "notes.txt (file)". */
  foreign: string[];
  manifest?: Manifest;
}

function readJson(file: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(readFileSync(file, 'utf8')) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * The evidence entries the log must hold, read from the evidence files the manifest lists (a file
 * put into evidence/ later is never read as evidence), or undefined when one cannot be read (its
 * digest finding says why).
 */
function evidenceEntries(dir: string, manifest: Manifest): EventEntry[] | undefined {
  try {
    return entriesOf(readSealedEvidence(dir, manifest));
  } catch {
    return undefined;
  }
}

/** The evidence files a manifest lists, parsed; throws on the first that is not a regular JSON file. */
export function readSealedEvidence(dir: string, manifest: Manifest): ScenarioResult[] {
  return manifest.files
    .filter((f) => isEvidencePath(f.path))
    .map((f) => {
      if (!lstatSync(join(dir, f.path)).isFile()) throw new Error(`${f.path}: not a regular file`);
      return JSON.parse(readFileSync(join(dir, f.path), 'utf8')) as ScenarioResult;
    });
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

const KIND_NAME: Record<EntryKind, string> = { file: 'file', directory: 'directory', symlink: 'symlink', fifo: 'FIFO', socket: 'socket', device: 'device' };

/**
 * Every sealed file still there, a regular file, and unchanged; nothing added where the run's
 * outputs live. Anything else in the directory is foreign: listed, never read, not a finding (the
 * run never sealed it and nothing jitc does reads it).
 */
function checkFiles(dir: string, manifest: Manifest, report: VerifyReport, problem: (subject: string, text: string) => void): void {
  const entries = new Map(listEntries(dir).map((e) => [e.path, e]));
  const owned = new Set([...OUTPUT_NAMES, ...manifest.files.map((f) => f.path.split('/')[0]!)]);
  for (const sealed of manifest.files) {
    const now = entries.get(sealed.path);
    entries.delete(sealed.path);
    if (!now) {
      problem(sealed.path, 'removed (the manifest lists it)');
      continue;
    }
    if (now.kind !== 'file') {
      problem(sealed.path, `edited: replaced by a ${KIND_NAME[now.kind]} (not read, not followed)`);
      continue;
    }
    let digest: FileDigest;
    try {
      digest = digestFile(dir, sealed.path);
    } catch (error) {
      problem(sealed.path, `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}): its content cannot be checked`);
      continue;
    }
    if (digest.sha256 !== sealed.sha256) problem(sealed.path, `edited: sha256 ${digest.sha256.slice(0, 16)}… differs from the sealed ${sealed.sha256.slice(0, 16)}…`);
  }
  for (const entry of entries.values()) {
    const top = entry.path.split('/')[0]!;
    if (!owned.has(top)) {
      if (entry.path === top) report.foreign.push(`${entry.path} (${KIND_NAME[entry.kind]})`);
    } else if (entry.kind !== 'directory') {
      problem(entry.path, entry.kind === 'file' ? 'added after the run was sealed (not in the manifest)' : `added after the run was sealed: a ${KIND_NAME[entry.kind]} (not read, not followed)`);
    }
  }
}

/**
 * Checks a sealed output dir. Throws InputError for bad input (no such dir, not a run dir,
 * unreadable key); returns the problems found otherwise (none = intact).
 */
export function verifyRun(dir: string, options: { key?: string | undefined } = {}): VerifyReport {
  if (!existsSync(dir)) throw new InputError(`${dir}: no such directory`);
  if (!statSync(dir).isDirectory()) throw new InputError(`${dir}: not a directory`);
  const verifier = options.key ? loadVerifyKey(options.key) : undefined;
  const report: VerifyReport = { dir, problems: [], notes: [], foreign: [] };
  const problem = (subject: string, text: string): void => void report.problems.push({ subject, problem: text });

  const manifestFile = join(dir, MANIFEST);
  if (!existsSync(manifestFile)) {
    const entries = readdirSync(dir);
    if (!entries.includes('summary.json') && !entries.includes(EVENT_LOG)) throw new InputError(`${dir}: not a jitc run directory (no ${MANIFEST}, no summary.json)`);
    problem(MANIFEST, existsSync(join(dir, COMMITTING)) ? `missing: a run's sealed outputs were being moved into place when it stopped (${COMMITTING}/); the next jitc run or merge into this directory finishes that` : 'missing: the run was never sealed, or its manifest was removed');
    return report;
  }

  if (!lstatSync(manifestFile).isFile()) {
    problem(MANIFEST, 'edited: not a regular file (not read, not followed)');
    return report;
  }
  const bytes = readFileSync(manifestFile);
  const parsed = readJson(manifestFile);
  if (!parsed.ok) {
    problem(MANIFEST, `edited: not valid JSON any more (${parsed.error})`);
    return report;
  }
  const shape = manifestSchema.safeParse(parsed.value);
  if (!shape.success) {
    const issue = shape.error.issues[0];
    problem(MANIFEST, `edited: ${issue?.path.join('.') || 'top level'}: ${issue?.message ?? 'not a jitc manifest'}`);
    return report;
  }
  const manifest = shape.data;
  report.manifest = manifest;
  if (manifestDigest(manifest) !== manifest.digest) problem(MANIFEST, 'edited: its content no longer matches its own digest');

  checkSignature(dir, manifest, bytes, verifier, report, problem);

  checkFiles(dir, manifest, report, problem);

  // The chain, record by record.
  const logFile = join(dir, manifest.eventLog.file);
  if (lstatOrUndefined(logFile)?.isFile()) {
    report.problems.push(...checkEventLog(readFileSync(logFile, 'utf8'), manifest.eventLog, evidenceEntries(dir, manifest)));
  } else if (manifest.files.every((f) => f.path !== manifest.eventLog.file)) {
    problem(manifest.eventLog.file, 'missing and not listed in the manifest');
  }

  report.notes.push(`${manifest.files.length} files and ${manifest.eventLog.records} event records of run ${manifest.runId}, sealed at ${manifest.sealedAt}; chain head ${manifest.eventLog.head}`);
  return report;
}

function checkSignature(
  dir: string,
  manifest: Manifest,
  bytes: Buffer,
  verifier: ReturnType<typeof loadVerifyKey> | undefined,
  report: VerifyReport,
  problem: (subject: string, text: string) => void,
): void {
  const sigFile = join(dir, SIGNATURE);
  const declared = manifest.signature;
  if (!declared) {
    if (existsSync(sigFile)) problem(SIGNATURE, 'present, but the manifest declares no signature (the signature entry was removed from the manifest?)');
    if (verifier) problem(MANIFEST, `not signed, but --key was given: the origin of this run cannot be proven (a stripped signature looks like this)`);
    else report.notes.push('not signed: integrity checked against the manifest only (sign with --sign-key to prove origin)');
    return;
  }
  if (!existsSync(sigFile)) {
    problem(SIGNATURE, `removed: the manifest declares a ${declared.algorithm} signature`);
    return;
  }
  const keyNote = `key sha256:${declared.publicKeySha256}`;
  if (!verifier) {
    report.notes.push(`signed (${declared.algorithm}, ${keyNote}); signature not checked: give --key PUBLIC_KEY_PEM`);
    return;
  }
  if (verifier.publicKeySha256 !== declared.publicKeySha256) {
    problem(SIGNATURE, `made with ${keyNote}, not with the given key sha256:${verifier.publicKeySha256}`);
    return;
  }
  if (!verifyBytes(bytes, readFileSync(sigFile), verifier)) {
    problem(SIGNATURE, `bad signature: does not verify over ${MANIFEST} with the given key (the manifest or the signature was changed)`);
    return;
  }
  report.notes.push(`signature valid (${declared.algorithm}, ${keyNote})`);
}
