/**
 * The environment a broker's exec hook runs with: an allowlist, never jitc's own. A hook sees the
 * few process basics below, the task (JITC_*), the variables the scenario names in `passEnv`, and
 * the point of use's target only when the scenario says `targetEnv: true`. jitc's own VAULT_TOKEN,
 * AWS keys or passwords reach no hook that does not name them.
 */
import type { HookName } from './answers.ts';
import { HookFailure, type GrantIds, type HookRequest } from './hooks.ts';

/** Process basics a program needs to start; none of them holds a secret. */
const BASICS = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'] as const;

/** `vault.policy` → `JITC_TERM_VAULT_POLICY`. */
export function termVariable(term: string): string {
  return `JITC_TERM_${term.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export interface EnvironmentSources {
  /** Names of jitc's own variables the scenario hands on. */
  passEnv: readonly string[];
  /** The point of use's target in its usual variables, when the scenario allows it. */
  target: Record<string, string>;
  /** jitc's own environment. */
  own: NodeJS.ProcessEnv;
}

export function hookEnvironment(hook: HookName, request: HookRequest, ids: GrantIds | undefined, sources: EnvironmentSources, renewSeconds?: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of BASICS) {
    const value = sources.own[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, sources.target);
  for (const name of sources.passEnv) {
    const value = sources.own[name];
    if (value === undefined) throw new HookFailure(`passEnv names ${name}, which is not set in jitc's environment`);
    env[name] = value;
  }
  // The task's own variables come last: nothing handed on may shadow them.
  Object.assign(env, {
    JITC_HOOK: hook,
    JITC_RUN_ID: request.runId,
    JITC_TASK_ID: request.taskId,
    JITC_PREFIX: request.prefix,
    JITC_WINDOW_SECONDS: String(request.windowSeconds),
    JITC_APPROVER: request.approver,
    JITC_SCOPE: JSON.stringify(request.scope),
    JITC_RESOURCE: request.resource,
    JITC_TERMS: JSON.stringify(request.terms),
    JITC_REQUESTER: request.requester ?? '',
    JITC_CREDENTIAL_TYPE: request.credentialType,
    ...Object.fromEntries(Object.entries(request.terms).map(([term, value]) => [termVariable(term), value])),
    ...(ids ? { JITC_REQUEST_ID: ids.requestId, JITC_CREDENTIAL_ID: ids.credentialId } : {}),
    ...(renewSeconds === undefined ? {} : { JITC_RENEW_SECONDS: String(renewSeconds) }),
  });
  return env;
}
