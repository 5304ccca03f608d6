/**
 * The `audit-trail` check at the `s3-object` point of use: the account's own CloudTrail
 * (cloudtrail.ts) holds, as separate records, the grant's issue, its use and its end, found by the
 * access key id the point was handed — whoever granted it:
 *
 * - **issue**: `CreateAccessKey` answering with the key, or `AssumeRole` (and STS's other session
 *   issuers) answering with it; for a grant that hands on the task identity's own key, every
 *   `AttachUserPolicy`, `PutUserPolicy` and `AddUserToGroup` naming that identity since setup;
 * - **use**: the S3 `GetObject` of the task object signed with the key — a data event, logged only
 *   by a trail with data events on, which the detail says when none at all was delivered;
 * - **end**: `DeleteAccessKey` naming the key; for each binding its own undoing
 *   (`DetachUserPolicy`, `DeleteUserPolicy`, `RemoveUserFromGroup`); for a role session the role's
 *   revocation (`PutRolePolicy` denying by aws:TokenIssueTime, AWS's `AWSRevokeOlderSessions`) or
 *   the removal of its permission (`DeleteRolePolicy`, `DetachRolePolicy`). A session that ended by
 *   expiry writes no record: its own `Expiration`, as the issuing record states it, stands for the
 *   end when it passed before the residue was read, and the evidence says the end is an expiry.
 *
 * An end counts only when its whole second (eventTime has no fraction) passed before the residue
 * was read: what the harness's teardown removes afterwards is cleaning up, not the grant ending.
 * Records arrive late: the bucket is read again until every record is there or `deliveryMinutes`
 * after the residue read have passed. A record still missing then is `fail` when the trail has
 * delivered records made after the residue read (it is delivering, without it), `inconclusive`
 * when it has not (nothing says the record will not come). A bucket that cannot be read is
 * `inconclusive`. Without a trail named (and always on the embedded emulator) the check is not
 * emitted: the evidence says it is not evidenced on this target.
 */
import { sleep } from '../../scenarios/wait.ts';
import { describeLocation, text, type TrailCoverage, type TrailLocation, trailLocation, TrailReader, type TrailRecord } from './cloudtrail.ts';
import type { AwsContext } from './context.ts';
import type { AwsKeys } from './credentials.ts';
import { describeAwsError, failureText } from './probes.ts';

const KEY = {
  trail: 'cloudTrail',
  since: 'cloudTrailSince',
  key: 'cloudTrailKey',
  worked: 'cloudTrailGrantWorked',
  residueRead: 'cloudTrailResidueReadAt',
} as const;

/** STS calls that answer with a session (responseElements.credentials.accessKeyId). */
const SESSION_ISSUERS = new Set(['AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity', 'GetSessionToken', 'GetFederationToken']);
/** A binding on the task identity, and the call that undoes each. */
const UNBINDS: Readonly<Record<string, { undo: string; by: 'policyArn' | 'policyName' | 'groupName' }>> = {
  AttachUserPolicy: { undo: 'DetachUserPolicy', by: 'policyArn' },
  PutUserPolicy: { undo: 'DeleteUserPolicy', by: 'policyName' },
  AddUserToGroup: { undo: 'RemoveUserFromGroup', by: 'groupName' },
};
const ROLE_ENDS = new Set(['PutRolePolicy', 'DeleteRolePolicy', 'DetachRolePolicy']);
const KEPT = new Set(['CreateAccessKey', 'DeleteAccessKey', ...SESSION_ISSUERS, ...Object.keys(UNBINDS), ...Object.values(UNBINDS).map((u) => u.undo), ...ROLE_ENDS]);

/** What the scenario knows of its grant, for the records to be matched against. */
export interface GrantFacts {
  /** The access key id the task used. */
  keyId: string;
  /** The task identity and its own key: a grant that binds a permission to it hands on that key. */
  requester?: { userName: string; accessKeyId: string };
  object: { bucket: string; key: string };
  /** When the scenario set up (ms): nothing earlier is the grant's. */
  since: number;
  /** When the residue was read (ms): an end must have happened before. */
  residueReadAt: number;
}

export interface FoundRecord {
  name: string;
  record?: TrailRecord;
  /** In words, when no record stands for it (a session's expiry). */
  note?: string;
}

export interface Judged {
  found: FoundRecord[];
  missing: string[];
}

const ok = (r: TrailRecord): boolean => r.errorCode === '';
const at = (r: TrailRecord): number => Date.parse(r.eventTime);
const nested = (value: unknown, field: string): string => (value !== null && typeof value === 'object' ? text((value as Record<string, unknown>)[field]) : '');
/** The record's whole second ended before `t`: it happened before, whatever its fraction was. */
const wholeSecondBefore = (r: TrailRecord, t: number): boolean => at(r) + 1000 <= t;

/**
 * A session's Expiration as CloudTrail writes it: `Mar 14, 2014 1:26:24 AM` (with or without a comma
 * after the year), UTC, in STS's records; ISO 8601 accepted too. NaN when it is neither.
 */
export function parseExpiration(value: string): number {
  const m = /^([A-Z][a-z]{2}) (\d{1,2}), (\d{4}),? (\d{1,2}):(\d{2}):(\d{2}) (AM|PM)$/.exec(value.trim());
  if (!m) return /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(m[1] ?? '');
  if (month < 0) return Number.NaN;
  const hour = (Number(m[4]) % 12) + (m[7] === 'PM' ? 12 : 0);
  return Date.UTC(Number(m[3]), month, Number(m[2]), hour, Number(m[5]), Number(m[6]));
}

/** Whether a PutRolePolicy is a revocation of the role's sessions (AWS's own, or a deny by aws:TokenIssueTime). */
function revokesSessions(r: TrailRecord): boolean {
  if (text(r.requestParameters.policyName) === 'AWSRevokeOlderSessions') return true;
  let document = text(r.requestParameters.policyDocument);
  try {
    document = decodeURIComponent(document);
  } catch {
    // Not URL-encoded: read as it is.
  }
  return /"Effect"\s*:\s*"Deny"/.test(document) && /aws:TokenIssueTime/i.test(document);
}

function roleNameOf(arn: string): string {
  return arn.replace(/^arn:[^:]+:iam::\d+:role\//, '').split('/').at(-1) ?? '';
}

/** Which records to keep while reading: those that can be the grant's issue, use or end. Anything else is dropped at once. */
export function relevantTo(facts: Pick<GrantFacts, 'keyId' | 'requester'>): (r: TrailRecord) => boolean {
  return (r) => {
    if (r.accessKeyId === facts.keyId) return true;
    if (!KEPT.has(r.eventName)) return false;
    if (ROLE_ENDS.has(r.eventName)) return true;
    const named = JSON.stringify([r.requestParameters, r.responseElements]);
    return named.includes(facts.keyId) || (facts.requester !== undefined && text(r.requestParameters.userName) === facts.requester.userName);
  };
}

function describeTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** The grant's records in what was read, and what is missing. */
export function judgeRecords(records: readonly TrailRecord[], facts: GrantFacts, coverage: Pick<TrailCoverage, 'dataEvents'>): Judged {
  const found: FoundRecord[] = [];
  const missing: string[] = [];
  const from = Math.floor(facts.since / 1000) * 1000;
  const mine = records.filter((r) => ok(r) && at(r) >= from).sort((a, b) => at(a) - at(b));
  const ended = (r: TrailRecord, after: TrailRecord): boolean => at(r) >= at(after) && wholeSecondBefore(r, facts.residueReadAt);
  const residue = describeTime(facts.residueReadAt);
  const key = facts.keyId;

  const created = mine.find((r) => r.eventName === 'CreateAccessKey' && nested(r.responseElements.accessKey, 'accessKeyId') === key);
  const session = mine.find((r) => SESSION_ISSUERS.has(r.eventName) && nested(r.responseElements.credentials, 'accessKeyId') === key);
  const ownKey = facts.requester !== undefined && facts.requester.accessKeyId === key;
  const bindings = ownKey ? mine.filter((r) => r.eventName in UNBINDS && text(r.requestParameters.userName) === facts.requester?.userName) : [];
  const issues = created ? [created] : session ? [session] : bindings;
  const first = issues[0];

  if (created) found.push({ name: `issue: CreateAccessKey answering with ${key}`, record: created });
  else if (session) found.push({ name: `issue: ${session.eventName} answering with ${key}`, record: session });
  else for (const b of bindings) found.push({ name: `issue: ${b.eventName} naming ${facts.requester?.userName ?? ''}`, record: b });
  if (!first) {
    missing.push(
      `issue (no CreateAccessKey or AssumeRole answering with ${key}${ownKey ? `, and no AttachUserPolicy, PutUserPolicy or AddUserToGroup naming ${facts.requester?.userName ?? ''} since setup` : ''})`,
    );
  }

  const { bucket, key: objectKey } = facts.object;
  const use = mine.find(
    (r) => r.accessKeyId === key && r.eventSource === 's3.amazonaws.com' && r.eventName === 'GetObject' && text(r.requestParameters.bucketName) === bucket && text(r.requestParameters.key) === objectKey && (!first || at(r) >= at(first)),
  );
  if (use) found.push({ name: `use: GetObject of s3://${bucket}/${objectKey} signed with ${key}`, record: use });
  else {
    missing.push(
      `use (no GetObject of s3://${bucket}/${objectKey} signed with ${key}${
        coverage.dataEvents ? '' : '; the trail delivered no S3 data event at all since setup: it does not log data events for this bucket, so as configured it cannot show the use'
      })`,
    );
  }

  if (!first) return { found, missing };
  if (created) {
    const end = mine.find((r) => r.eventName === 'DeleteAccessKey' && text(r.requestParameters.accessKeyId) === key && ended(r, created));
    if (end) found.push({ name: `end: DeleteAccessKey naming ${key}`, record: end });
    else missing.push(`end (no DeleteAccessKey naming ${key} before the residue was read at ${residue})`);
  } else if (session) {
    const role = roleNameOf(text(session.requestParameters.roleArn));
    const revoked = role
      ? mine.find((r) => ROLE_ENDS.has(r.eventName) && text(r.requestParameters.roleName) === role && ended(r, session) && (r.eventName !== 'PutRolePolicy' || revokesSessions(r)))
      : undefined;
    const expiresAt = parseExpiration(nested(session.responseElements.credentials, 'expiration'));
    if (revoked) found.push({ name: `end: ${revoked.eventName} on role ${role}${revoked.eventName === 'PutRolePolicy' ? ' revoking its older sessions' : " removing the session's permission"}`, record: revoked });
    else if (Number.isFinite(expiresAt) && expiresAt <= facts.residueReadAt) {
      found.push({ name: 'end by expiry', note: `the session expired at ${describeTime(expiresAt)}, the Expiration its ${session.eventName} record states, before the residue was read; STS writes no record of an expiry` });
    } else {
      missing.push(
        `end (no revocation of ${role ? `role ${role}'s sessions` : 'the session'} before the residue was read at ${residue}, and its Expiration ${Number.isFinite(expiresAt) ? `${describeTime(expiresAt)} had not passed by then` : 'is not stated'})`,
      );
    }
  } else {
    for (const b of bindings) {
      const { undo, by } = UNBINDS[b.eventName] ?? { undo: '', by: 'policyArn' };
      const what = text(b.requestParameters[by]);
      const end = mine.find((r) => r.eventName === undo && text(r.requestParameters.userName) === facts.requester?.userName && text(r.requestParameters[by]) === what && ended(r, b));
      if (end) found.push({ name: `end: ${undo} of ${what}`, record: end });
      else missing.push(`end of ${b.eventName} ${what} (no ${undo} before the residue was read at ${residue})`);
    }
  }
  return { found, missing };
}

/** Fields of a record an auditor may see: ids and names, never a response body (STS's holds the session token). */
function shown(f: FoundRecord): Record<string, string> {
  if (!f.record) return { record: f.name, note: f.note ?? '' };
  const r = f.record;
  return { record: f.name, eventName: r.eventName, eventTime: r.eventTime, eventID: r.eventId, eventSource: r.eventSource, accessKeyId: r.accessKeyId, by: r.arn };
}

function describeFound(f: FoundRecord): string {
  return f.record ? `${f.name} at ${f.record.eventTime}` : `${f.name}: ${f.note ?? ''}`;
}

function trailOf(ctx: AwsContext): TrailLocation | undefined {
  return ctx.state.get(KEY.trail) as TrailLocation | undefined;
}

/** At setup, before anything is created: the trail is read from here on, or the gap is declared. */
export function openCloudTrail(ctx: AwsContext): void {
  const trail = trailLocation(ctx.connection);
  if (!trail) {
    // The marker the reports show per control as a gap (reports/writers/summary.ts).
    ctx.evidence.record(
      ctx.connection.mode === 'external'
        ? "audit-trail not evidenced on this target: no CloudTrail bucket is named (aws.cloudTrail), so the account's own record of the grant's issue, use and end is not read"
        : 'audit-trail not evidenced on this target: the embedded emulator keeps no CloudTrail',
      { notEvidenced: 'audit-trail' },
    );
    return;
  }
  ctx.state.set(KEY.trail, trail);
  ctx.state.set(KEY.since, Date.now());
  ctx.evidence.record(`CloudTrail is read from ${describeLocation(trail)} (regions ${trail.regions.join(', ')}), files delivered since setup, waiting up to ${trail.deliveryMs / 60_000} min after the residue read`, {
    bucket: trail.bucket,
    prefix: trail.prefix,
    regions: trail.regions,
  });
}

/** The key the task used (the first one handed to use) and whether it did the privileged action. */
export function rememberUse(ctx: AwsContext, keys: AwsKeys | undefined, worked: boolean): void {
  if (!trailOf(ctx) || !keys) return;
  if (!ctx.state.has(KEY.key)) ctx.state.set(KEY.key, keys.accessKeyId);
  if (worked && ctx.state.get(KEY.key) === keys.accessKeyId) ctx.state.set(KEY.worked, true);
}

/** Reading what reaches the object after the use: an end must be in the trail before this moment. */
export function markResidueRead(ctx: AwsContext): void {
  if (trailOf(ctx) && ctx.state.has(KEY.worked)) ctx.state.set(KEY.residueRead, Date.now());
}

/** How often the bucket is listed again while records are missing: a tenth of the bound, between 1 and 30 s. */
function pollMs(trail: TrailLocation): number {
  return Math.min(30_000, Math.max(1000, trail.deliveryMs / 10));
}

/**
 * Judge the grant's trail (at teardown: the residue was read, so the end is in the past). The
 * point passes what it knows of its task identity and object.
 */
export async function judgeCloudTrail(ctx: AwsContext, known: Pick<GrantFacts, 'requester' | 'object'>): Promise<void> {
  const trail = trailOf(ctx);
  if (!trail) return;
  const keyId = ctx.state.get(KEY.key) as string | undefined;
  const residueReadAt = ctx.state.get(KEY.residueRead) as number | undefined;
  if (!keyId) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: 'no AWS key reached the point of use, so there is nothing to find in CloudTrail' });
    return;
  }
  if (!ctx.state.has(KEY.worked)) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `the grant's key ${keyId} never read the object, so its use and end were not looked for in CloudTrail` });
    return;
  }
  if (residueReadAt === undefined) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: 'the lifecycle stopped before the residue was read, so the end of the grant was not looked for in CloudTrail' });
    return;
  }
  const facts: GrantFacts = { keyId, ...known, since: ctx.state.get(KEY.since) as number, residueReadAt };
  const reader = new TrailReader(trail, ctx.client.s3, facts.since, relevantTo(facts));
  const where = describeLocation(trail);
  const deadline = residueReadAt + trail.deliveryMs;
  const started = Date.now();
  let judged: Judged;
  let reads = 0;
  for (;;) {
    try {
      await reader.read();
      reads += 1;
    } catch (error) {
      const why = error instanceof Error && !('$metadata' in error) ? error.message : failureText(describeAwsError(error));
      ctx.evidence.record(`CloudTrail bucket ${where} could not be read: ${why}`, { bucket: trail.bucket, reads });
      ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `the CloudTrail bucket ${where} could not be read: ${why}` });
      return;
    }
    judged = judgeRecords(reader.records, facts, reader.coverage);
    if (judged.missing.length === 0 || Date.now() >= deadline || ctx.signal.aborted) break;
    try {
      await sleep(Math.min(pollMs(trail), deadline - Date.now()), ctx.signal);
    } catch {
      break; // interrupted: judged from what was read so far
    }
  }
  const waitedMs = Date.now() - started;
  const coverage = reader.coverage;
  const waited = `${reads} read(s) of the bucket over ${Math.round(waitedMs / 1000)} s, ${coverage.files} file(s) and ${coverage.records} record(s) since setup`;
  ctx.evidence.record(`CloudTrail records of the grant's key ${keyId} in ${where}, ${waited}`, {
    bucket: trail.bucket,
    keyId,
    residueReadAt: describeTime(residueReadAt),
    latestDelivered: coverage.latestEventTime ?? null,
    dataEvents: coverage.dataEvents,
    found: judged.found.map(shown),
    missing: judged.missing,
  });
  const described = judged.found.map(describeFound).join('; ');
  if (judged.missing.length === 0) {
    ctx.report({ check: 'audit-trail', verdict: 'pass', detail: `${where} records ${described} (${waited})` });
    return;
  }
  const delivered = coverage.latestEventTime !== undefined && Date.parse(coverage.latestEventTime) >= residueReadAt;
  if (!delivered || ctx.signal.aborted) {
    const stopped = ctx.signal.aborted ? 'interrupted' : `waited ${Math.round(waitedMs / 1000)} s, up to ${trail.deliveryMs / 60_000} min after the residue read`;
    ctx.report({
      check: 'audit-trail',
      verdict: 'inconclusive',
      detail: `${delivered ? 'the wait for CloudTrail' : `CloudTrail has delivered no record made after the residue was read (${describeTime(residueReadAt)}; newest delivered ${coverage.latestEventTime ?? 'none'})`}: ${stopped}, so these may still arrive: ${judged.missing.join('; ')}${described ? `; found ${described}` : ''}`,
    });
    return;
  }
  ctx.report({ check: 'audit-trail', verdict: 'fail', detail: `missing from ${where} (${waited}): ${judged.missing.join('; ')}${described ? `; found ${described}` : ''}` });
}
