/**
 * Names and tags of everything a scenario creates on AWS. Every IAM name is `<stem>.<kind>`: the
 * stem is the scenario prefix `jitc-<runId>-<scenarioId>`, and the dot — which scenario ids never
 * contain — ends it, so `jitc-r1-x.` never matches the objects of a scenario `x-twin` running next
 * to it on the same account. Residue and teardown read the names a scenario recorded as it created
 * them (never a listing of the account); cleanup of a killed run lists by the run prefix `jitc-<runId>-`.
 */
import { createHash } from 'node:crypto';
import { runPrefix } from '../contract.ts';

/** IAM user and role names are limited to 64 characters; the longest kind suffix is 16. */
const IAM_NAME_MAX = 64;
const LONGEST_KIND = '.identity-assume'.length;
const BUCKET_NAME_MAX = 63;

export const RUN_TAG = 'jitc:run';
export const SCENARIO_TAG = 'jitc:scenario';
export const TASK_TAG = 'jitc:task';

export interface NameSource {
  runId: string;
  scenarioId: string;
  prefix: string;
}

const shortHash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 8);


/**
 * The scenario's stem: its prefix, or — when that would push an IAM name past 64 characters — the
 * run prefix, the start of the scenario id and a hash of the whole id (still unique, still swept).
 */
export function stem(source: NameSource): string {
  if (source.prefix.length + LONGEST_KIND <= IAM_NAME_MAX) return source.prefix;
  const head = runPrefix(source.runId);
  const room = IAM_NAME_MAX - LONGEST_KIND - head.length - 9;
  return `${head}${source.scenarioId.slice(0, Math.max(0, room))}~${shortHash(source.scenarioId)}`;
}

export type Kind = 'identity' | 'identity-assume' | 'role' | 'grant' | 'worker' | 'group' | 'revoke-sessions' | 'break-glass' | 'bg-identity' | 'bg-assume' | 'routine-path';

export function iamName(source: NameSource, kind: Kind): string {
  return `${stem(source)}.${kind}`;
}

/** Does an IAM name belong to this scenario (exactly, not to one whose id merely starts the same)? */
export function ownedBy(source: NameSource, name: string): boolean {
  return name.startsWith(`${stem(source)}.`);
}

/**
 * S3 bucket names: lower case, no dots (dots break virtual-hosted TLS on AWS), at most 63
 * characters, unique across all of AWS — hence the run id and a hash when the prefix is too long.
 */
export function bucketName(source: NameSource): string {
  const plain = source.prefix.toLowerCase();
  if (plain.length <= BUCKET_NAME_MAX) return plain;
  const head = runPrefix(source.runId).toLowerCase();
  return `${head}${source.scenarioId.slice(0, BUCKET_NAME_MAX - head.length - 9)}-${shortHash(source.scenarioId)}`;
}

/** STS session names: 2-64 characters of [\w+=,.@-]. */
export function sessionName(source: NameSource, purpose: string): string {
  const name = `${source.runId}-${purpose}`;
  return name.length <= 64 ? name : `${name.slice(0, 55)}-${shortHash(name)}`;
}

export interface Tag {
  Key: string;
  Value: string;
}

export function tagsFor(source: NameSource, taskId?: string): Tag[] {
  const tags: Tag[] = [
    { Key: RUN_TAG, Value: source.runId },
    { Key: SCENARIO_TAG, Value: source.scenarioId },
  ];
  if (taskId !== undefined) tags.push({ Key: TASK_TAG, Value: taskId });
  return tags;
}
