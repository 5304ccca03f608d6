/**
 * The shell every AWS extension attempt shares: how long to ask for, how far the minted
 * credential's privilege reaches, and how AWS's answer reads. `refused` comes only from AWS's own
 * denial codes (probes.ts); any other failure is `unknown`.
 *
 * Reach: a credential the holder mints on AWS carries the permissions of the principal it was
 * minted from (the user, or the role it chains to), evaluated at each request. It reaches until
 * the earlier of its own stated end (a session's Expiration; none for a key or a password) and
 * the end the principal's permission states for itself (an aws:CurrentTime bound on every Allow
 * statement, read from the target now); with neither, it has no end. A target that ignores policy
 * Conditions (moto) does not enforce that second bound: the after-end probes of every minted
 * credential show what it really does.
 */
import type { ExtensionMoment, ExtensionResult, ProbeResult, ReuseHandle } from '../../contract.ts';
import type { AwsContext } from '../context.ts';
import { documentsOf, type Principal } from '../iam-read.ts';
import { timeBox } from '../policies.ts';
import { classifyFailure, describeAwsError, failureText } from '../probes.ts';

/** How far past the window's end an attempt inside the window aims. */
const AIM_PAST_WINDOW_SECONDS = 60;

/** DurationSeconds to ask: inside the window, past its end (within AWS's bounds); after the end, the least AWS accepts. */
export function askedSeconds(moment: ExtensionMoment, windowEndsAt: number, min: number, max: number, now = Date.now()): number {
  if (moment === 'after-end') return min;
  const past = Math.ceil((windowEndsAt - now) / 1000) + AIM_PAST_WINDOW_SECONDS;
  return Math.min(max, Math.max(min, past));
}

export interface Reach {
  /** ms since the epoch, or null for no end. */
  until: number | null;
  because: string;
}

/** The earlier of the credential's own end and its principal's permission end; null when neither states one. */
export function reachOf(credentialEnd: number | null, permissionEnd: number | null): Reach {
  const iso = (ms: number): string => new Date(ms).toISOString();
  if (credentialEnd === null && permissionEnd === null) return { until: null, because: 'neither the credential nor the permission it carries states an end' };
  if (permissionEnd === null) return { until: credentialEnd, because: `the credential ends ${iso(credentialEnd!)}; its permission states no end of its own` };
  if (credentialEnd === null) return { until: permissionEnd, because: `the credential states no end; its permission ends ${iso(permissionEnd)} (aws:CurrentTime condition)` };
  return credentialEnd <= permissionEnd
    ? { until: credentialEnd, because: `the credential ends ${iso(credentialEnd)}, before its permission (${iso(permissionEnd)})` }
    : { until: permissionEnd, because: `the credential ends ${iso(credentialEnd)}, its permission earlier: ${iso(permissionEnd)} (aws:CurrentTime condition)` };
}

/** The end the principal's own permission states, read from the target now. */
export async function permissionEnd(ctx: AwsContext, principal: Principal): Promise<number | null> {
  return timeBox(await documentsOf(ctx.client.iam, principal));
}

/** AWS's answer to a mint the holder tried: refused on its own denial codes, unknown otherwise. */
export function notMinted(error: unknown, what: string): ExtensionResult {
  const failure = describeAwsError(error);
  const outcome = classifyFailure(failure) === 'denied' ? 'refused' : 'unknown';
  return { outcome, at: new Date().toISOString(), detail: `${what}: ${outcome === 'unknown' && failure.status !== undefined ? 'unrecognised answer: ' : ''}${failureText(failure)}` };
}

export interface Minted {
  /** What was issued, ids only: "session ASIA… until 2026-…". */
  what: string;
  credentialEnd: number | null;
  principal: Principal;
  handles: ReuseHandle[];
  /** The task's action tried with what was minted (or with the same principal, for a password). */
  useTask(): Promise<ProbeResult>;
}

/**
 * Judge a successful mint. Inside the window it extended the grant as far as its reach; after the
 * end it brought the grant back only if the minted credential reaches the task's action again — a
 * credential without the privilege brings nothing back, and is still probed and counted as residue.
 */
export async function minted(ctx: AwsContext, moment: ExtensionMoment, m: Minted): Promise<ExtensionResult> {
  const at = new Date().toISOString();
  const reach = reachOf(m.credentialEnd, await permissionEnd(ctx, m.principal));
  const reachesUntil = reach.until === null ? null : new Date(reach.until).toISOString();
  const reaches = `reaches ${reachesUntil === null ? 'with no end' : `until ${reachesUntil}`} (${reach.because})`;
  if (moment === 'inside-window') return { outcome: 'extended', at, detail: `${m.what}: ${reaches}`, reachesUntil, minted: m.handles };
  const use = await m.useTask();
  const detail = `${m.what}, then the task's action with it: ${use.outcome} (${use.detail}); ${reaches}`;
  if (use.outcome === 'allowed') return { outcome: 'extended', at: use.at, detail, reachesUntil, minted: m.handles };
  return { outcome: use.outcome === 'denied' ? 'refused' : 'unknown', at: use.at, detail, minted: m.handles };
}
