/**
 * `jitc cleanup`: what a killed run left. Servers it started are stopped by their recorded pid;
 * objects it created on targets that outlive a run (targets left up, external targets) are found
 * by run id on the target itself and removed. Says what it removed, or that nothing was left.
 *
 * External targets are those the user names (each adapter's `external.configured`): without
 * `--suite` every named one is swept and each unnamed one is passed over with a line saying so;
 * with `--suite` every adapter asked for must be named. Every external connection is made, and so
 * every credential checked, before anything is stopped or removed: a target that is named but
 * refuses jitc is one line of bad input, and nothing is half done.
 */
import type { Adapter, ProvisionOptions, TargetConnection } from '../adapters/contract.ts';
import { loadAdapters } from '../adapters/registry.ts';
import { stopLeftoverServers } from '../adapters/local-process.ts';
import { upTarget, UP_RUN_ID } from '../adapters/bring-up.ts';
import { adapterSections, loadRunConfig, type Config } from './config.ts';
import { readdirSync, existsSync } from 'node:fs';
import { runStateDir } from '../adapters/local-process.ts';
import { displayPath, errorText, InputError, PROJECT_ROOT } from '../scenarios/input.ts';

interface CleanupFlags {
  run?: string;
  target?: 'external';
  config?: string;
  suite?: string[];
}

/** An external target whose connection `connect` built and checked. */
interface Reached {
  adapter: Adapter;
  connection: TargetConnection;
}

function externalOptions(adapter: Adapter, config: Config, flags: CleanupFlags): ProvisionOptions {
  return {
    runId: flags.run ?? 'cleanup',
    projectRoot: PROJECT_ROOT,
    workDir: PROJECT_ROOT,
    config: adapterSections(config, [adapter.name])[adapter.name] ?? {},
    ...(flags.config ? { configFile: flags.config } : {}),
    log: (l) => process.stderr.write(`${l}\n`),
  };
}

function howToConfigure(adapter: Adapter): string {
  return adapter.targets.external?.howToConfigure ?? `name it in a ${adapter.name}: section of the config file`;
}

/**
 * The external targets to sweep, each connected. Throws {@link InputError} (one line) when one
 * asked for is not named, when none is named at all, or when a named one cannot be used; returns
 * the lines saying which were passed over, to print once the sweep goes ahead.
 */
async function reachExternal(adapters: Adapter[], config: Config, flags: CleanupFlags): Promise<{ reached: Reached[]; passedOver: string[] }> {
  const withExternal = adapters.filter((a) => a.targets.external);
  if (flags.suite) {
    const without = adapters.filter((a) => !a.targets.external);
    if (without.length > 0) throw new InputError(`--suite: ${without.map((a) => a.name).join(', ')} has no external target mode`);
  }
  // Undefined: the adapter has no target of its own to name (the broker).
  const named = new Map(withExternal.map((a) => [a, a.targets.external?.configured?.(externalOptions(a, config, flags))]));
  const unnamed = withExternal.filter((a) => named.get(a) === false);
  if (flags.suite && unnamed.length > 0) {
    throw new InputError(`--target external: ${unnamed.map((a) => `${a.name}: no external target configured (${howToConfigure(a)})`).join('; ')}`);
  }
  if (!flags.suite && !withExternal.some((a) => named.get(a) === true)) {
    const where = flags.config ? `neither ${displayPath(flags.config)} nor the environment names one` : 'no --config file given and the environment names none';
    throw new InputError(`--target external: no external target configured: ${where} (${unnamed.map((a) => `${a.name}: ${howToConfigure(a)}`).join('; ')})`);
  }
  const toSweep = withExternal.filter((a) => named.get(a) !== false);
  // All at once, and all settled before any answer counts: no connection is left half made.
  const answers = await Promise.allSettled(toSweep.map((a) => a.targets.external!.connect(externalOptions(a, config, flags))));
  const refusals = answers.flatMap((answer) => (answer.status === 'rejected' ? [answer.reason as unknown] : []));
  if (refusals.length > 0) {
    const text = refusals.map((r) => errorText(r)).join('; ');
    // Bad input only when every refusal says so; anything else is jitc's own error, said as such.
    throw refusals.every((r) => r instanceof InputError) ? new InputError(text) : new Error(text);
  }
  return {
    reached: answers.flatMap((answer, i) => (answer.status === 'fulfilled' ? [{ adapter: toSweep[i]!, connection: answer.value }] : [])),
    passedOver: unnamed.map((a) => `${a.name}: not swept: no external target configured (${howToConfigure(a)})`),
  };
}

/**
 * The adapters in the order their targets are swept: an issuer before the targets its credentials
 * are used on. Removing an issuer's object may run the issuer's own revocation on the other target
 * (unmounting a Vault LDAP or database engine deletes the accounts its leases made); were that
 * account swept first, the revocation finds nothing to delete, fails, and the issuer refuses the
 * removal. Otherwise (and around a cycle) the adapters keep their order.
 */
export function sweepOrder<A extends Pick<Adapter, 'name' | 'grantSources' | 'pointsOfUse'>>(adapters: readonly A[]): A[] {
  const issues = new Map(adapters.map((a) => [a, Object.values(a.grantSources).flatMap((g) => g.issues)]));
  const accepts = new Map(adapters.map((a) => [a, new Set<string>(Object.values(a.pointsOfUse).flatMap((p) => p.accepts))]));
  const issuesFor = (a: A, b: A): boolean => a !== b && issues.get(a)!.some((t) => accepts.get(b)!.has(t));
  const left = [...adapters];
  const order: A[] = [];
  while (left.length > 0) {
    const free = left.find((b) => !left.some((a) => issuesFor(a, b))) ?? left[0]!;
    order.push(free);
    left.splice(left.indexOf(free), 1);
  }
  return order;
}

export async function cleanupCommand(flags: CleanupFlags): Promise<number> {
  if (flags.run !== undefined && !/^[a-z0-9]{3,16}$/.test(flags.run)) {
    process.stderr.write(`jitc: --run: "${flags.run}" is not a run id (as printed by jitc run)\n`);
    return 2;
  }
  const config = await loadRunConfig(flags.config);
  const all = await loadAdapters();
  const unknown = (flags.suite ?? []).filter((name) => !all.has(name));
  if (unknown.length > 0) throw new InputError(`--suite: unknown adapter "${unknown[0]}" (known: ${[...all.keys()].join(', ')})`);
  const adapters = [...all.values()].filter((a) => !flags.suite || flags.suite.includes(a.name));
  const external = flags.target === 'external' ? await reachExternal(adapters, config, flags) : { reached: [], passedOver: [] };
  for (const line of external.passedOver) process.stderr.write(`${line}\n`);
  const lines: string[] = [];
  let failed = 0;
  let unfinished = 0;

  // Servers of killed runs (never those left up on purpose by `targets up`).
  const runs = flags.run ? [flags.run] : existsSync(runStateDir(PROJECT_ROOT)) ? readdirSync(runStateDir(PROJECT_ROOT)).filter((r) => r !== UP_RUN_ID) : [];
  for (const run of runs) {
    const servers = await stopLeftoverServers(PROJECT_ROOT, run);
    for (const stopped of servers.stopped) lines.push(`stopped server ${stopped}`);
    for (const running of servers.inUse) lines.push(`left running: server ${running}`);
  }

  const sweep = async (adapter: Adapter, connection: TargetConnection, where: string): Promise<void> => {
    try {
      const client = await adapter.connect(connection);
      try {
        const report = await adapter.cleanup(client, flags.run);
        for (const item of report.removed) lines.push(`removed from ${where}: ${item}`);
        for (const item of report.failed) lines.push(`could not remove from ${where}: ${item}`);
        failed += report.failed.length;
      } finally {
        await adapter.disconnect?.(client);
      }
    } catch (error) {
      // What this sweep removed before it broke is unknown to it; the other targets are still swept.
      lines.push(`could not finish sweeping ${where}: ${errorText(error)}`);
      unfinished += 1;
    }
  };

  for (const adapter of sweepOrder(adapters)) {
    const up = upTarget(adapter.name);
    if (up) await sweep(adapter, up.connection, `${adapter.name} target left up (${up.connection.address})`);
    const reached = external.reached.find((r) => r.adapter === adapter);
    if (reached) await sweep(adapter, reached.connection, `${adapter.name} at ${reached.connection.address}`);
  }
  for (const line of lines) process.stdout.write(`${line}\n`);
  process.stdout.write(lines.length === 0 ? `nothing left${flags.run ? ` by run ${flags.run}` : ''}\n` : `${lines.length} items handled\n`);
  // A sweep that broke off leaves the target's state unknown: not a failure to remove, inconclusive.
  return unfinished > 0 ? 2 : failed > 0 ? 1 : 0;
}
