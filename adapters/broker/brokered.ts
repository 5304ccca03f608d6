/**
 * A grant source that is the user's own broker, whatever carries the exchange (exec or HTTP).
 * jitc asks the broker for a grant and hands the credential to the point of use, which alone
 * judges what it can do. What the broker says — its request id, approver, stated expiry, "ended"
 * — becomes {@link BrokerClaims}, which the engine compares with what the target does; the
 * target's own statement about the credential ({@link CredentialFacts}) sets the TTL judged.
 * Here the broker's renewal without approval and its uniqueness across two tasks are tried, and
 * what the broker says it made on the target for each task is looked up there before and after the end (made.ts).
 */
import { z } from 'zod';
import {
  bornCredential,
  type BrokerClaims,
  type Credential,
  type CredentialFacts,
  type CredentialType,
  type EndMode,
  type Grant,
  type GrantContext,
  type GrantSource,
  type ParamsSchema,
  publicId,
  sameCredential,
} from '../contract.ts';
import { errorText } from '../../scenarios/input.ts';
import { CREDENTIAL_KINDS, type RequestAnswer } from './answers.ts';
import { type BrokerHooks, type GrantIds, HookFailure, type HookRequest } from './hooks.ts';
import { judgeMadeAfterTeardownEnd, type LookedUp, lookUpMade, madeEntitlements } from './made.ts';

/** Params every broker source takes, whatever carries its hooks. */
export const brokerParams = z.strictObject({
  /** What the broker hands out; `requester`: a privilege on the requester's own identity (a membership). */
  credential: z.enum(CREDENTIAL_KINDS),
  /** Ask for a second grant under a second task id, to prove two tasks never get one credential. */
  secondTask: z.boolean().default(true),
});
export type BrokerParams = z.infer<typeof brokerParams>;

/** The broker adapter's client: nothing to hold, the hooks are made per scenario. */
export type BrokerClient = Record<string, never>;
export type BrokerContext<P extends BrokerParams> = GrantContext<P, BrokerClient>;

/** One task the broker was asked to grant for, and whether jitc has asked it to end. */
interface AskedTask {
  request: HookRequest;
  answer: RequestAnswer;
  ids: GrantIds;
  credential: Credential;
  /** When jitc sent the request, its own clock. */
  requestedAt: string;
  endAsked: boolean;
  /** What the target showed of the objects the broker made, looked up while the task held its grant. */
  held?: Promise<LookedUp[]>;
}

const HOOKS = 'hooks';
const TASKS = 'tasks';
const RENEWAL = 'renewal';

/** What the renewal without approval showed, judged once the end mode is known. */
interface RenewalSeen {
  renewed: boolean;
  detail: string;
  /** The target's stated expiry before and after, when it states one. */
  target?: { before: string | null; after: string | null };
  failure?: string;
}

const ALL_TYPES: readonly CredentialType[] = ['vault-token', 'aws-keys', 'ldap-bind', 'db-login', 'ssh-certificate', 'tls-client-certificate', 'bearer-token'];

function hooksOf<P extends BrokerParams>(ctx: BrokerContext<P>): BrokerHooks {
  const hooks = ctx.state.get(HOOKS) as BrokerHooks | undefined;
  if (!hooks) throw new Error('the broker source has no hooks: setup did not run');
  return hooks;
}

function tasksOf<P extends BrokerParams>(ctx: BrokerContext<P>): AskedTask[] {
  let tasks = ctx.state.get(TASKS) as AskedTask[] | undefined;
  if (!tasks) ctx.state.set(TASKS, (tasks = []));
  return tasks;
}

function hookRequest<P extends BrokerParams>(ctx: BrokerContext<P>, taskId: string, prefix: string, approver = ctx.task.approver): HookRequest {
  const requester = ctx.resource.requester;
  return {
    taskId,
    runId: ctx.runId,
    prefix,
    windowSeconds: ctx.task.windowSeconds,
    approver,
    scope: ctx.task.needs,
    resource: ctx.resource.description,
    terms: ctx.resource.terms,
    requester: requester ? publicId(requester) : null,
    credentialType: ctx.params.credential,
  };
}

/** Ask the broker for one grant; the credential's secrets are registered before anything can record them. */
async function ask<P extends BrokerParams>(ctx: BrokerContext<P>, request: HookRequest): Promise<AskedTask> {
  const requestedAt = new Date().toISOString();
  const answer = await hooksOf(ctx).request(request);
  const handed = answer.credential ? bornCredential(ctx.secrets, answer.credential) : undefined;
  const kind = ctx.params.credential;
  const own = ctx.resource.requester;
  let credential: Credential;
  if (handed) {
    if (kind !== 'requester' && handed.type !== kind) throw new HookFailure(`the broker answered request ${answer.requestId} with a ${handed.type} credential; the scenario expects ${kind}`);
    credential = handed;
  } else if (kind === 'requester' && own) {
    credential = own;
  } else {
    throw new HookFailure(`the broker's answer to request ${answer.requestId} holds no credential; the scenario expects ${kind}${kind === 'requester' ? ', and the point of use made no requester identity' : ''}`);
  }
  const task: AskedTask = { request, answer, ids: { requestId: answer.requestId, credentialId: publicId(credential) }, credential, requestedAt, endAsked: false };
  tasksOf(ctx).push(task);
  ctx.evidence.record(`broker granted task ${request.taskId}`, {
    requestId: answer.requestId,
    approver: answer.approver,
    approvedAt: answer.approvedAt,
    issuedAt: answer.issuedAt ?? null,
    expiresAt: answer.expiresAt,
    credential: { type: credential.type, id: task.ids.credentialId, handedBy: handed ? 'broker' : "the requester's own" },
    scope: answer.scope ?? [],
    made: answer.made ?? [],
    ...(answer.detail ? { detail: answer.detail } : {}),
  });
  return task;
}

/** Two tasks, one credential? A privilege on the requester's own identity is told apart by request id. */
function judgeUniqueness<P extends BrokerParams>(ctx: BrokerContext<P>, first: AskedTask, second: AskedTask): void {
  const same = first.answer.credential && second.answer.credential ? sameCredential(first.credential, second.credential) : first.ids.requestId === second.ids.requestId;
  const what = first.answer.credential ? `credential ${first.ids.credentialId}` : `request ${first.ids.requestId}`;
  ctx.report({
    check: 'unique-credential',
    verdict: same ? 'fail' : 'pass',
    detail: same
      ? `tasks ${first.request.taskId} and ${second.request.taskId} both received ${what}`
      : first.answer.credential
        ? `tasks ${first.request.taskId} and ${second.request.taskId} received different credentials (${first.ids.credentialId}, ${second.ids.credentialId})`
        : `the grant is a privilege on the requester's own identity: no credential was issued to share, and the two tasks' requests are apart (${first.ids.requestId}, ${second.ids.requestId})`,
  });
}

function secondsBetween(from: string, to: string): number {
  return Math.round((Date.parse(to) - Date.parse(from)) / 1000);
}

async function inspect<P extends BrokerParams>(ctx: BrokerContext<P>, credential: Credential): Promise<CredentialFacts | undefined> {
  const facts = await ctx.pointOfUse.inspect(credential);
  if (facts) ctx.evidence.record(`the target states about the credential: ${facts.detail}`, { expiresAt: facts.expiresAt, ttlSeconds: facts.ttlSeconds, attributes: facts.attributes });
  return facts;
}

/**
 * A second task on the requester's own identity holds the very privilege under test: left in place,
 * the target would be judged on whichever of the two ends last (under load, the second is asked a
 * second or more after the first, and its expiry is that much later). Once it has shown it is a
 * request of its own, it is ended, so the first task's expiry is the one judged. A broker that does
 * not end it when asked keeps that privilege on the requester: what the target then shows is the
 * broker's own doing, and the evidence says so.
 */
async function endSecondOnRequester<P extends BrokerParams>(ctx: BrokerContext<P>, second: AskedTask): Promise<void> {
  await lookUpWhileHeld(ctx, [second]);
  const ended = await endTask(ctx, second).catch((error: unknown) => ({ ended: false, detail: errorText(error) }));
  if (!ended.ended) {
    ctx.evidence.record(`the broker did not end task ${second.request.taskId} when asked (${ended.detail}): its privilege on the requester stays beside the task under test`, { requestId: second.ids.requestId });
  }
}

/**
 * Look up what the broker made for each task that still holds its grant, once per task: started
 * after the first use (off the path of what must land inside the window) and awaited before any
 * end is asked.
 */
async function lookUpWhileHeld<P extends BrokerParams>(ctx: BrokerContext<P>, tasks: readonly AskedTask[]): Promise<LookedUp[]> {
  for (const task of tasks) {
    const refs = task.answer.made ?? [];
    if (task.endAsked || task.held || refs.length === 0) continue;
    task.held = lookUpMade(ctx.pointOfUse, refs)
      .catch((error: unknown) => refs.map((ref) => ({ ref, result: { state: 'unknown' as const, detail: `look-up failed: ${errorText(error)}` } })))
      .then((looked) => {
        const hidden = looked.filter((l) => l.result.state !== 'present').map((l) => l.ref);
        ctx.evidence.record(`what the broker made, looked up while task ${task.request.taskId} held its grant: ${hidden.length === 0 ? 'all shown' : `NOT shown: ${hidden.join(', ')}`}`, {
          made: looked.map(({ ref, result }) => ({ ref, state: result.state, detail: result.detail })),
        });
        return looked;
      });
  }
  return (await Promise.all(tasks.flatMap((t) => (t.held ? [t.held] : [])))).flat();
}

async function endTask<P extends BrokerParams>(ctx: BrokerContext<P>, task: AskedTask): Promise<{ ended: boolean; at: string; detail: string }> {
  task.endAsked = true;
  const asked = new Date().toISOString();
  const answer = await hooksOf(ctx).end(task.request, task.ids);
  const ended = { ended: answer.ended, at: answer.endedAt ?? asked, detail: answer.detail ?? (answer.ended ? 'ended' : 'not ended') };
  ctx.evidence.record(`broker answered the end of task ${task.request.taskId}: ${answer.ended ? 'ended' : 'NOT ended'}`, { requestId: task.ids.requestId, endedAt: ended.at, detail: ended.detail });
  return ended;
}

/** Whether the renewal refused without approval changed nothing, judged with what the end mode lets the run see. */
function judgeRenewal<P extends BrokerParams>(ctx: BrokerContext<P>, seen: RenewalSeen, mode: EndMode): void {
  const report = (verdict: 'pass' | 'fail' | 'inconclusive', detail: string): void => ctx.report({ check: 'renewal-needs-approval', verdict, detail });
  if (seen.failure) return report('inconclusive', `the renewal hook did not answer as the contract says: ${seen.failure}`);
  if (seen.renewed) return report('fail', `asked to renew without a new approval, the broker renewed the grant (${seen.detail})`);
  if (seen.target) {
    const { before, after } = seen.target;
    const moved = (before === null) !== (after === null) || (before !== null && after !== null && Date.parse(after) > Date.parse(before) + 1000);
    return moved
      ? report('fail', `the broker answered that it refused the renewal (${seen.detail}), yet the target's expiry moved from ${before ?? 'none'} to ${after ?? 'none'}`)
      : report('pass', `refused without a new approval (${seen.detail}); the target's expiry did not move (${before ?? 'none'})`);
  }
  // The target states nothing about this credential: only the wait for the stated expiry shows whether it moved.
  if (mode === 'expire') return report('pass', `refused without a new approval (${seen.detail}); the target states no expiry to compare, and the wait for the stated expiry (broker-expiry-honoured) shows whether it moved`);
  report('inconclusive', `refused without a new approval (${seen.detail}), but the target states no expiry for this credential and the grant was revoked before it, so whether the refusal changed nothing cannot be seen`);
}

export interface BrokeredDefinition<P extends BrokerParams> {
  title: string;
  params: ParamsSchema<P>;
  /** The hooks for one scenario, made at setup with its context (environment, interrupt). */
  hooks(ctx: BrokerContext<P>): BrokerHooks;
  /** Whether these params give the broker a renewal to test. */
  renews(params: P): boolean;
  /** What is wrong with these params outside the file (see Half.problems). */
  problems?(params: P, dir: string): readonly string[];
}

export function brokeredSource<P extends BrokerParams>(definition: BrokeredDefinition<P>): GrantSource<P, BrokerClient> {
  return {
    title: definition.title,
    params: definition.params,
    issues: ALL_TYPES,
    issuedFor: (params) => (params.credential === 'requester' ? [] : [params.credential]),
    // Whatever the point of use offers is handed to the broker: it knows which terms it grants by.
    needs: [],
    brokered: true,
    ...(definition.problems ? { problems: definition.problems } : {}),
    checks: (params) => ['reuse-denied', 'holder-cannot-extend', ...(params.secondTask ? ['unique-credential'] : []), ...(definition.renews(params) ? ['renewal-needs-approval'] : [])],
    remediation: {
      'reuse-denied': "Make the broker's end step revoke the credential on the target itself, and give every grant a lifetime that ends with the approval window",
      'no-residue': "Make the broker's end step remove everything the grant created on the target (tokens, keys, memberships, roles)",
    },

    async setup(ctx) {
      const hooks = definition.hooks(ctx);
      ctx.state.set(HOOKS, hooks);
      ctx.evidence.record('broker hooks ready', { broker: hooks.describe, renewal: hooks.renew !== undefined, status: hooks.status !== undefined });
    },

    // The broker's own records live on its own system; what the credential reaches is the point of
    // use's residue. What the broker made for a task on the target counts once it was asked to end
    // the task: before that (the baseline, a grant left to expire) the object is the broker's to hold.
    async entitlements(ctx) {
      const ended = tasksOf(ctx).filter((t) => t.endAsked);
      const refs = ended.flatMap((t) => t.answer.made ?? []);
      if (refs.length === 0) return [];
      const held = await lookUpWhileHeld(ctx, ended);
      return madeEntitlements(await lookUpMade(ctx.pointOfUse, refs), held);
    },

    async request(ctx): Promise<Grant> {
      const first = await ask(ctx, hookRequest(ctx, ctx.task.id, ctx.prefix));
      if (ctx.params.secondTask) {
        const second = await ask(ctx, hookRequest(ctx, `${ctx.task.id}#2`, `${ctx.prefix}-2`));
        judgeUniqueness(ctx, first, second);
        if (ctx.params.credential === 'requester') await endSecondOnRequester(ctx, second);
      }
      const { answer, credential } = first;
      const facts = await inspect(ctx, credential);
      if (!facts) ctx.evidence.record(`the target states nothing about a ${credential.type} credential: the broker's stated expiry stands in for it`, { brokerExpiresAt: answer.expiresAt });
      const issuedAt = facts?.issuedAt ?? answer.issuedAt ?? answer.approvedAt ?? first.requestedAt;
      const expiresAt = facts ? facts.expiresAt : answer.expiresAt;
      const claims: BrokerClaims = {
        requestedAt: first.requestedAt,
        requestId: answer.requestId,
        approver: answer.approver,
        approvedAt: answer.approvedAt,
        expiresAt: answer.expiresAt,
        ...(facts ? { target: { expiresAt: facts.expiresAt, detail: facts.detail } } : {}),
      };
      const grant: Grant = {
        credentialId: `${credential.type} ${first.ids.credentialId} (broker request ${answer.requestId})`,
        issuedAt,
        expiresAt,
        ttlRequestedSeconds: ctx.task.windowSeconds,
        ttlGrantedSeconds: facts ? facts.ttlSeconds : answer.expiresAt === null ? null : secondsBetween(issuedAt, answer.expiresAt),
        scopeGranted: answer.scope ?? [],
        attributes: { ...(facts?.attributes ?? {}), broker: hooksOf(ctx).describe, requestId: answer.requestId, expiryStatedBy: facts ? 'target' : 'broker' },
        handles: [{ name: `${credential.type} credential from the broker (${first.ids.credentialId})`, check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(credential, node) }],
        extensions: [],
        claims,
        credential,
      };
      grant.extensions = ctx.pointOfUse.extensions(credential, grant);
      return grant;
    },

    async afterUse(ctx, grant) {
      // Not awaited here: awaited again before any end is asked, where a failure is met.
      lookUpWhileHeld(ctx, tasksOf(ctx)).catch(() => undefined);
      const renew = hooksOf(ctx).renew;
      const [task] = tasksOf(ctx);
      if (!renew || !task) return;
      let seen: RenewalSeen;
      try {
        // No approver: jitc asks as a holder would, without a new approval.
        const answer = await renew(hookRequest(ctx, task.request.taskId, task.request.prefix, ''), task.ids, ctx.task.windowSeconds);
        const detail = answer.detail ?? (answer.renewed ? `until ${answer.expiresAt ?? 'no stated end'}` : 'refused');
        ctx.evidence.record(`broker asked to renew without a new approval: ${answer.renewed ? 'RENEWED' : 'refused'}`, { expiresAt: answer.expiresAt ?? null, approver: answer.approver ?? null, detail });
        seen = { renewed: answer.renewed, detail };
        if (!answer.renewed && grant.claims?.target) {
          const after = await inspect(ctx, grant.credential);
          seen = { ...seen, target: { before: grant.claims.target.expiresAt, after: after ? after.expiresAt : null } };
        }
      } catch (error) {
        if (!(error instanceof HookFailure)) throw error;
        seen = { renewed: false, detail: '', failure: error.message };
      }
      ctx.state.set(RENEWAL, seen);
    },

    async end(ctx, grant, mode) {
      const renewal = ctx.state.get(RENEWAL) as RenewalSeen | undefined;
      if (renewal) judgeRenewal(ctx, renewal, mode);
      const [first, ...others] = tasksOf(ctx);
      if (!first) return;
      await lookUpWhileHeld(ctx, tasksOf(ctx));
      const hooks = hooksOf(ctx);
      // Waiting for an expiry, jitc must not end the grant itself: that would hide an expiry that never came.
      if (mode !== 'expire') {
        const ended = await endTask(ctx, first);
        if (grant.claims) grant.claims.ended = ended;
        for (const other of others) await endTask(ctx, other).catch((error: unknown) => ctx.evidence.record(`ending task ${other.request.taskId} failed: ${errorText(error)}`));
      }
      if (hooks.status) {
        const status = await hooks.status(first.request, first.ids).catch((error: unknown) => (error instanceof HookFailure ? error : Promise.reject(error)));
        if (status instanceof HookFailure) ctx.evidence.record(`the broker's status hook failed: ${status.message}`);
        else ctx.evidence.record(`the broker says request ${first.ids.requestId} is ${status.state}`, { expiresAt: status.expiresAt ?? null, detail: status.detail ?? null });
      }
    },

    async teardown(ctx) {
      const removed: string[] = [];
      const failed: string[] = [];
      const endedHere = tasksOf(ctx).filter((t) => !t.endAsked);
      // A lifecycle stopped before its end never looked: the tasks still hold their grants now.
      const held = await lookUpWhileHeld(ctx, endedHere);
      for (const task of endedHere) {
        try {
          const ended = await endTask(ctx, task);
          removed.push(`broker request ${task.ids.requestId} ${ended.ended ? 'ended' : 'asked to end (the broker says it did not)'}`);
        } catch (error) {
          failed.push(`broker request ${task.ids.requestId}: ${errorText(error)}`);
        }
      }
      // The residue read came before these ends: what they left of the broker's objects is judged now.
      const made = endedHere.flatMap((t) => t.answer.made ?? []);
      if (made.length > 0) {
        const judged = await judgeMadeAfterTeardownEnd(ctx.pointOfUse, made, held);
        ctx.evidence.record(`what the broker made, looked up after its end at teardown: ${judged.verdict === 'pass' ? 'all gone' : judged.verdict === 'fail' ? 'LEFT' : 'not answered for'}`, {
          made: judged.looked.map(({ ref, result }) => ({ ref, state: result.state, detail: result.detail })),
        });
        // Only a finding when something may be left: the residue check itself was made (or not) before.
        if (judged.verdict !== 'pass') ctx.report({ check: 'no-residue', verdict: judged.verdict, detail: judged.detail });
      }
      if (failed.length > 0) throw new Error(`the broker did not end ${failed.join('; ')}`);
      return removed;
    },
  };
}
