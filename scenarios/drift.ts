/**
 * `context-bound`: a credential bound to the context its task runs in (the workload's source
 * address) must be refused from anywhere else. Right after the first use, inside the window, the
 * point of use tries the privileged action with the credential from every drifted address the
 * scenario names (`context.driftFrom`), then once more from the bound one (`context.from`): a
 * refusal from elsewhere counts only while the bound context is still let in, otherwise it may be
 * the credential's end and not its binding. See docs/architecture.md ("context-bound").
 */
import type { Credential, DriftAttempt, PointOfUse, ProbeResult, ScenarioContext } from '../adapters/contract.ts';
import { errorText } from './input.ts';
import type { ContextSpec, Scenario } from './schema.ts';
import type { CheckVerdict } from './verdict.ts';

export const CONTEXT_CHECK = 'context-bound';

/** The check a scenario naming its context can produce: declared with the engine's own. */
export function driftChecks(scenario: Pick<Scenario, 'context'>): string[] {
  return scenario.context ? [CONTEXT_CHECK] : [];
}

/** One attempt as it was answered. */
export interface Tried extends ProbeResult {
  name: string;
  context: string;
}

type AddCheck = (name: string, verdict: CheckVerdict, detail: string) => void;

/**
 * Try the credential from each drifted context and then from the bound one, record every answer
 * with its source address, and judge `context-bound`. Nothing when the scenario names no context.
 */
export async function checkContextBinding(
  ctx: ScenarioContext<unknown, unknown>,
  point: { name: string; half: PointOfUse },
  credential: Credential,
  spec: ContextSpec | undefined,
  usable: boolean,
  addCheck: AddCheck,
): Promise<void> {
  if (!spec) return;
  if (!usable) {
    addCheck(CONTEXT_CHECK, 'inconclusive', 'not tested: the grant never worked, so a refusal from another context proves nothing');
    return;
  }
  const drifted = point.half.drifted;
  if (!drifted) {
    addCheck(CONTEXT_CHECK, 'inconclusive', `not evidenced on this target: ${point.name} cannot use a credential from another source address`);
    return;
  }
  const attemptsFrom = (from: string): DriftAttempt[] => drifted.call(point.half, ctx, credential, from);
  const away = await tryEach(ctx, spec.driftFrom.flatMap(attemptsFrom), spec, false);
  const home = await tryEach(ctx, attemptsFrom(spec.from), spec, true);
  const { verdict, detail } = judgeDrift(away, home, spec);
  addCheck(CONTEXT_CHECK, verdict, detail);
}

async function tryEach(ctx: ScenarioContext<unknown, unknown>, attempts: DriftAttempt[], spec: ContextSpec, bound: boolean): Promise<Tried[]> {
  const tried: Tried[] = [];
  for (const a of attempts) {
    let result: ProbeResult;
    try {
      result = await a.attempt();
    } catch (error) {
      result = { outcome: 'unknown', at: new Date().toISOString(), detail: errorText(error) };
    }
    tried.push({ ...result, name: a.name, context: a.context });
    ctx.evidence.record(
      `credential used from ${a.context} (${bound ? 'the bound context' : `outside ${spec.boundTo}`}): ${a.name}: ${result.outcome}`,
      { sourceAddress: a.context, boundTo: spec.boundTo, outcome: result.outcome, answer: result.detail },
      new Date(result.at),
    );
  }
  return tried;
}

const shown = (t: Tried): string => `${t.name} from ${t.context}: ${t.outcome} (${t.detail})`;

/**
 * The verdict: any use allowed from outside the binding is a fail, whatever else was seen; a pass
 * needs every drifted attempt refused by the target's own answer and the bound context still let
 * in right after; anything else is doubt.
 */
export function judgeDrift(away: readonly Tried[], home: readonly Tried[], spec: ContextSpec): { verdict: CheckVerdict; detail: string } {
  if (away.length === 0) {
    return { verdict: 'inconclusive', detail: `not evidenced on this target: the point of use offered no attempt from ${spec.driftFrom.join(', ')}` };
  }
  const allowed = away.filter((t) => t.outcome === 'allowed');
  if (allowed.length > 0) {
    return { verdict: 'fail', detail: `the credential bound to ${spec.boundTo} worked from another context: ${allowed.map(shown).join('; ')}` };
  }
  const unread = away.filter((t) => t.outcome === 'unknown');
  if (unread.length > 0) {
    return { verdict: 'inconclusive', detail: `could not tell whether the credential works outside ${spec.boundTo}: ${unread.map(shown).join('; ')}` };
  }
  const refused = away.map(shown).join('; ');
  if (home.length === 0) {
    return { verdict: 'inconclusive', detail: `${refused}; but nothing was tried from the bound context ${spec.from}, so the refusal may be the credential's end, not its binding` };
  }
  const notLetIn = home.filter((t) => t.outcome !== 'allowed');
  if (notLetIn.length > 0) {
    return {
      verdict: 'inconclusive',
      detail: `${refused}; but the bound context was not let in right after (${notLetIn.map(shown).join('; ')}), so the refusal may be the credential's end, not its binding`,
    };
  }
  return { verdict: 'pass', detail: `refused outside ${spec.boundTo}: ${refused}; still let in from the bound context right after: ${home.map(shown).join('; ')}` };
}
