/**
 * IAM policy documents: the ones the harness writes (grant, trust, revoke-older-sessions) and the
 * readings it takes of documents fetched back from the target (scope granted, time box, whether a
 * policy grants anything at all). Pure functions: the target is read elsewhere.
 */

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: string | Record<string, string | string[]>;
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: Statement[];
}

/** The task's object and bucket, as ARNs. */
export interface TaskResource {
  partition: string;
  bucket: string;
  key: string;
}

export const objectArn = (r: TaskResource): string => `arn:${r.partition}:s3:::${r.bucket}/${r.key}`;
export const bucketArn = (r: TaskResource): string => `arn:${r.partition}:s3:::${r.bucket}`;

/** Bucket-level S3 actions apply to the bucket ARN; everything else the harness grants applies to the object. */
export function resourceFor(action: string, r: TaskResource): string {
  return /^s3:(ListBucket|GetBucket|PutBucket|DeleteBucket)/.test(action) ? bucketArn(r) : objectArn(r);
}

/** ISO time in whole seconds, as IAM conditions write dates; rounded up unless told otherwise. */
export function iamDate(ms: number, round: 'up' | 'down' = 'up'): string {
  const whole = (round === 'up' ? Math.ceil(ms / 1000) : Math.floor(ms / 1000)) * 1000;
  return new Date(whole).toISOString().replace('.000Z', 'Z');
}

/**
 * Allow `actions` on the task's resources. With `until`, the grant carries its own end in the policy
 * (aws:CurrentTime before `until`): the way IAM time-boxes a permission on a principal that has no
 * expiring credential (an IAM user's key, a policy binding).
 */
export function grantDocument(actions: string[], r: TaskResource, until?: number): PolicyDocument {
  // Rounded down: the stated end must never pass the approval window.
  const byResource = new Map<string, string[]>();
  for (const action of actions) {
    const resource = resourceFor(action, r);
    byResource.set(resource, [...(byResource.get(resource) ?? []), action]);
  }
  const Statement: Statement[] = [...byResource].map(([Resource, Action], i) => {
    const statement: Statement = { Sid: `JitcTaskGrant${i}`, Effect: 'Allow', Action, Resource };
    if (until !== undefined) statement.Condition = { DateLessThan: { 'aws:CurrentTime': iamDate(until, 'down') } };
    return statement;
  });
  return { Version: '2012-10-17', Statement };
}

/** Who may assume the role: the broker always, and (a broken setup) the task identity itself. */
export function trustDocument(principals: string[]): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: principals.length === 1 ? principals[0]! : principals }, Action: 'sts:AssumeRole' }],
  };
}

/** The identity's own permission to call sts:AssumeRole on the role (part of the broken "standing trust" setup). */
export function assumeDocument(roleArn: string): PolicyDocument {
  return { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: roleArn }] };
}

/**
 * AWS's own way to end the active sessions of a role without waiting for them to expire (the IAM
 * console's "Revoke active sessions"): deny everything to sessions issued before `before`.
 */
export function revokeOlderSessionsDocument(before: number): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'JitcRevokeOlderSessions',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { DateLessThan: { 'aws:TokenIssueTime': iamDate(before) } },
      },
    ],
  };
}

/** IAM returns documents URL-encoded from Get*Policy calls; the SDK leaves them so. */
export function parseDocument(text: string): PolicyDocument {
  const raw = text.trimStart().startsWith('%') ? decodeURIComponent(text) : text;
  const parsed = JSON.parse(raw) as { Version?: string; Statement?: Statement | Statement[] };
  const statements = parsed.Statement === undefined ? [] : Array.isArray(parsed.Statement) ? parsed.Statement : [parsed.Statement];
  return { Version: '2012-10-17', Statement: statements };
}

const list = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** A policy that only denies grants nothing: it is not an entitlement (e.g. revoke-older-sessions). */
export function grantsNothing(doc: PolicyDocument): boolean {
  return doc.Statement.every((s) => s.Effect !== 'Allow');
}

/**
 * The scope a set of documents grants, one "action resource" entry per allowed pair, in the target's
 * own terms. NotAction/NotResource statements are written as such: they grant everything but a list.
 */
export function grantedScope(docs: PolicyDocument[]): string[] {
  const entries = new Set<string>();
  for (const doc of docs) {
    for (const s of doc.Statement.filter((st) => st.Effect === 'Allow')) {
      const actions = s.NotAction !== undefined ? [`NotAction(${list(s.NotAction).join(',')})`] : list(s.Action);
      const resources = s.NotResource !== undefined ? [`NotResource(${list(s.NotResource).join(',')})`] : list(s.Resource);
      for (const action of actions) for (const resource of resources.length > 0 ? resources : ['*']) entries.add(`${action} ${resource}`);
    }
  }
  return [...entries].sort();
}

/** Entries whose action or resource is a wildcard: their count understates what they grant. */
export function unboundedEntries(scope: string[]): string[] {
  return scope.filter((entry) => entry.includes('*') || entry.startsWith('NotAction(') || entry.includes(' NotResource('));
}

/** The earliest aws:CurrentTime DateLessThan bound on the Allow statements, or null when any Allow has none. */
export function timeBox(docs: PolicyDocument[]): number | null {
  let earliest: number | null = null;
  for (const doc of docs) {
    for (const s of doc.Statement.filter((st) => st.Effect === 'Allow')) {
      const bound = s.Condition?.DateLessThan?.['aws:CurrentTime'];
      const value = Array.isArray(bound) ? bound[0] : bound;
      if (value === undefined) return null;
      const ms = Date.parse(value);
      if (Number.isNaN(ms)) return null;
      earliest = earliest === null ? ms : Math.min(earliest, ms);
    }
  }
  return earliest;
}
