/**
 * `jitc discover` on AWS: reads the account's IAM roles (ListRoles, GetRole, the role's own
 * policies) and proposes a scenario per role plus static findings. Only reads: nothing on the
 * account changes. Service-linked roles (path /aws-service-role/) are AWS's own and skipped, and
 * so are jitc's own task roles (named with its run prefix).
 *
 * The static findings are those an existing role is judged by when a scenario uses it
 * (role-findings.ts: MaxSessionDuration for `role-within-window`, the trust policy's principals
 * for `role-trust-narrow`), against `policy.maxWindowSeconds`; one that cannot be judged is a
 * note, never a pass.
 *
 * A role can only end its grant by expiry here (revoking a session means changing the role), so
 * each scenario waits for its session to expire. The session asked is as short as the run may
 * wait (`policy.maxWaitSeconds`), never shorter than AWS accepts (900 s; an emulator at a custom
 * endpoint takes less): a session longer than the wait makes the scenario opt-in.
 */
import { GetRoleCommand, paginateListRoles } from '@aws-sdk/client-iam';
import pLimit from 'p-limit';
import { CHANGE_ME, runPrefix, type Discovery, type DiscoveryPolicy, type Finding, type StaticFinding } from '../contract.ts';
import type { AwsClient } from './client.ts';
import { documentsOf } from './iam-read.ts';
import { parseDocument, type PolicyDocument } from './policies.ts';
import { judgeSessionDuration, judgeTrust } from './role-findings.ts';

/** The value of a field discovery could not fill: the scenario file does not load until it is set. */
/** Reads in flight at once: hundreds of roles stay fast within IAM's request rate. */
const READS_AT_ONCE = 8;
/** The shortest DurationSeconds AWS's STS accepts. */
const AWS_SESSION_FLOOR_SECONDS = 900;

const values = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Whether an action pattern (`s3:*`, `*`, `s3:Get*`) covers `action`. */
export function actionCovers(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(action);
}

/** The object the documents let the role read: the first s3:GetObject Allow naming one object without wildcards. */
export function readableObject(docs: readonly PolicyDocument[]): string | undefined {
  for (const doc of docs) {
    for (const s of doc.Statement) {
      if (s.Effect !== 'Allow' || s.NotAction !== undefined || !values(s.Action).some((a) => actionCovers(a, 's3:GetObject'))) continue;
      const object = values(s.Resource).find((r) => /^arn:[^:]+:s3:::[^/*?]+\/[^*?]*[^/*?]$/.test(r));
      if (object) return object;
    }
  }
  return undefined;
}

/** The shortest session the target accepts: AWS's floor, or 1 s at an emulator's custom endpoint. */
export function sessionFloorSeconds(endpoint: string | undefined): number {
  if (endpoint === undefined) return AWS_SESSION_FLOOR_SECONDS;
  const host = URL.canParse(endpoint) ? new URL(endpoint).hostname : endpoint;
  return /\.amazonaws\.com(\.cn)?$/.test(host) ? AWS_SESSION_FLOOR_SECONDS : 1;
}

interface RoleReading {
  name: string;
  arn: string;
  /** As IAM states it; undefined when it states none. */
  maxSessionSeconds: number | undefined;
  trust: PolicyDocument;
  objectArn: string | undefined;
}

async function readRole(client: AwsClient, name: string): Promise<RoleReading> {
  const role = (await client.iam.send(new GetRoleCommand({ RoleName: name }))).Role;
  return {
    name,
    arn: role?.Arn ?? '',
    maxSessionSeconds: role?.MaxSessionDuration,
    trust: parseDocument(role?.AssumeRolePolicyDocument ?? '{}'),
    objectArn: readableObject(await documentsOf(client.iam, { role: name })),
  };
}

/** IAM's MaxSessionDuration when a role states none. */
const IAM_DEFAULT_SESSION_SECONDS = 3600;

function scenarioFor(role: RoleReading, policy: DiscoveryPolicy, floor: number): Discovery['scenarios'][number] {
  const longest = role.maxSessionSeconds ?? IAM_DEFAULT_SESSION_SECONDS;
  const window = Math.min(longest, policy.maxWindowSeconds);
  const duration = Math.min(longest, Math.max(floor, Math.min(window, policy.maxWaitSeconds)));
  const object = role.objectArn ?? CHANGE_ME;
  const reads = role.objectArn ? `reads ${role.objectArn}` : 'reads the object named in use.params.existing.objectArn';
  return {
    id: `role-${role.name}`,
    ...(duration > policy.maxWaitSeconds ? { optIn: true } : {}),
    scenario: {
      title: `Role "${role.name}": an assumed-role session dies at its Expiration`,
      proves: `The broker assumes the existing role ${role.arn} for ${duration} s and the session ${reads}. Once its Expiration plus one second of grace has passed, the same session must be refused. The role is read, never changed: its MaxSessionDuration (${role.maxSessionSeconds ?? 'not stated'} s) is judged against the approval window of ${window} s, and its trust policy against the broker being the only one who may assume it.`,
      adapter: 'aws',
      severity: 'critical',
      grant: { adapter: 'aws', source: 'assume-role', params: { roleArn: role.arn, durationSeconds: duration } },
      use: { point: 's3-object', params: { existing: { objectArn: object } } },
      task: { windowSeconds: window, needs: [`s3:GetObject on ${object}`] },
      end: { mode: 'expire', graceSeconds: 1 },
      reuse: { deadlineSeconds: 4 },
    },
  };
}

/** Discovery with what the reader should know beside it: what was skipped, what could not be filled. */
export async function discoverAws(client: AwsClient, policy: DiscoveryPolicy): Promise<Discovery & { notes: string[] }> {
  const listed: { name: string; path: string }[] = [];
  for await (const page of paginateListRoles({ client: client.iam }, {})) {
    for (const r of page.Roles ?? []) if (r.RoleName) listed.push({ name: r.RoleName, path: r.Path ?? '/' });
  }
  const serviceLinked = listed.filter((r) => r.path.startsWith('/aws-service-role/'));
  const own = listed.filter((r) => r.name.startsWith(runPrefix()));
  const names = listed.filter((r) => !serviceLinked.includes(r) && !own.includes(r)).map((r) => r.name).sort();
  const limit = pLimit(READS_AT_ONCE);
  const roles = await Promise.all(names.map((name) => limit(() => readRole(client, name))));
  const floor = sessionFloorSeconds(client.endpoint);
  const findings: StaticFinding[] = [];
  const notes: string[] = [`read ${roles.length} roles of account ${client.account}; skipped ${serviceLinked.length} service-linked and ${own.length} of jitc's own`];
  for (const role of roles) {
    const object = `role ${role.arn}`;
    // Judged as a scenario using the role judges it; what cannot be judged is a note, never a pass.
    const judged: Finding[] = [judgeSessionDuration(role.arn, role.maxSessionSeconds, policy.maxWindowSeconds), judgeTrust(role.arn, role.trust)];
    for (const f of judged) {
      if (f.verdict === 'inconclusive') notes.push(`${object}: ${f.check} not judged: ${f.detail}`);
      else findings.push({ object, check: f.check, verdict: f.verdict, detail: f.detail });
    }
    if (!role.objectArn) notes.push(`${object}: no s3:GetObject statement of its own policies names one object; set use.params.existing.objectArn in its scenario`);
  }
  const scenarios = roles.map((role) => scenarioFor(role, policy, floor));
  if (scenarios.some((s) => s.optIn)) {
    notes.push(`AWS accepts sessions of ${floor} s at least, longer than policy.maxWaitSeconds (${policy.maxWaitSeconds} s): those scenarios wait that long and are opt-in`);
  }
  if (roles.length > 0) notes.push("zero-standing-privilege stays inconclusive until use.params.existing.requesterKeysEnv names variables holding the requester's own keys");
  return { scenarios, findings, notes };
}
