/**
 * `jitc targets install|up|down`. `up` leaves the local targets running between runs (a later
 * `jitc run` uses them instead of starting its own); `down` stops them by the pids it recorded.
 */
import { loadAdapters } from '../adapters/registry.ts';
import { installRequirements } from '../adapters/install.ts';
import { stopLeftoverServers } from '../adapters/local-process.ts';
import { bringUp, forgetUpTargets, rememberUpTarget, UP_RUN_ID } from '../adapters/bring-up.ts';
import { localState } from '../adapters/paths.ts';
import { PROJECT_ROOT } from '../scenarios/input.ts';

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export async function targetsCommand(action: 'install' | 'up' | 'down', opts: { suite?: string[] }): Promise<number> {
  const adapters = [...(await loadAdapters()).values()].filter((a) => a.targets.local && (!opts.suite || opts.suite.includes(a.name)));
  if (action === 'install') {
    await installRequirements(PROJECT_ROOT, adapters.map((a) => a.targets.local!.requirements), log);
    const state = localState(PROJECT_ROOT);
    log(`local targets installed: ${adapters.map((a) => a.name).join(', ')} (in ${state.targets}, ${state.why})`);
    return 0;
  }
  if (action === 'down') {
    const { stopped } = await stopLeftoverServers(PROJECT_ROOT, UP_RUN_ID);
    forgetUpTargets();
    log(stopped.length > 0 ? `stopped: ${stopped.join(', ')}` : 'no local targets were up');
    return 0;
  }
  const started = await bringUp(adapters, { runId: UP_RUN_ID, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log });
  for (const target of started) rememberUpTarget(target);
  log('local targets are up; `jitc run` will use them; stop them with `jitc targets down`');
  return 0;
}
