/**
 * `exec`: the user's broker driven through commands — `request`, `end`, optional `renew` and
 * `status` — under the contract of the README's "Testing your own broker". The commands run in the
 * scenario file's directory; one that cannot be found is refused when the scenario is loaded, not
 * half-way through a run.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { envName } from '../../param-fields.ts';
import { seconds } from '../../../scenarios/durations.ts';
import { brokeredSource, brokerParams } from '../brokered.ts';
import { execHooks } from '../exec-hooks.ts';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A program as a shell would find it: a path (from `dir`), or a name on PATH. */
export function findsCommand(command: string, dir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (command.includes('/')) return executable(isAbsolute(command) ? command : resolve(dir, command));
  return (env.PATH ?? '').split(delimiter).some((path) => path !== '' && executable(join(path, command)));
}

const argv = z.array(z.string().min(1).max(4096)).min(1).max(64);
const HOOK_KEYS = ['request', 'end', 'renew', 'status'] as const;

const params = brokerParams.extend({
  request: argv,
  end: argv,
  renew: argv.optional(),
  status: argv.optional(),
  timeoutSeconds: seconds.refine((s) => s > 0 && s <= 600, 'between 0 and 600 seconds').default(30),
  /** Variables of jitc's own environment the hooks may see; nothing else of it reaches them. */
  passEnv: z.array(envName).max(64).default([]),
  /** Hand the hooks the point of use's target in its usual variables (the embedded local targets). */
  targetEnv: z.boolean().default(false),
});
type ExecParams = z.infer<typeof params>;

export const execSource = brokeredSource<ExecParams>({
  title: "The user's broker, driven through commands (request, end, renew, status)",
  params,
  renews: (p) => p.renew !== undefined,
  problems: (p, dir) =>
    HOOK_KEYS.flatMap((key) => {
      const command = p[key]?.[0];
      return command === undefined || findsCommand(command, dir) ? [] : [`${key}.0: command not found or not executable: ${command} (a path is taken from the scenario file's directory, a name from PATH)`];
    }),
  hooks: (ctx) =>
    execHooks(
      ctx.params,
      { passEnv: ctx.params.passEnv, target: ctx.params.targetEnv ? ctx.pointOfUse.targetEnvironment() : {}, own: process.env },
      ctx.signal,
      ctx.dir,
    ),
});
