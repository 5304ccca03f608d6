/**
 * `jitc cleanup`: what a killed run left. Servers it started are stopped by their recorded pid;
 * objects it created on targets that outlive a run (targets left up, external targets) are found
 * by run id on the target itself and removed. Says what it removed, or that nothing was left.
 */
import type { Adapter, TargetConnection } from '../adapters/contract.ts';
import { loadAdapters } from '../adapters/registry.ts';
import { stopLeftoverServers } from '../adapters/local-process.ts';
import { upTarget, UP_RUN_ID } from '../adapters/bring-up.ts';
import { adapterSections, loadRunConfig } from './config.ts';
import { readdirSync, existsSync } from 'node:fs';
import { runStateDir } from '../adapters/local-process.ts';
import { PROJECT_ROOT } from '../scenarios/input.ts';

interface CleanupFlags {
  run?: string;
  target?: 'external';
  config?: string;
  suite?: string[];
}

export async function cleanupCommand(flags: CleanupFlags): Promise<number> {
  if (flags.run !== undefined && !/^[a-z0-9]{3,16}$/.test(flags.run)) {
    process.stderr.write(`jitc: --run: "${flags.run}" is not a run id (as printed by jitc run)\n`);
    return 2;
  }
  const config = await loadRunConfig(flags.config);
  const adapters = [...(await loadAdapters()).values()].filter((a) => !flags.suite || flags.suite.includes(a.name));
  const lines: string[] = [];
  let failed = 0;

  // Servers of killed runs (never those left up on purpose by `targets up`).
  const runs = flags.run ? [flags.run] : existsSync(runStateDir(PROJECT_ROOT)) ? readdirSync(runStateDir(PROJECT_ROOT)).filter((r) => r !== UP_RUN_ID) : [];
  for (const run of runs) {
    const servers = await stopLeftoverServers(PROJECT_ROOT, run);
    for (const stopped of servers.stopped) lines.push(`stopped server ${stopped}`);
    for (const running of servers.inUse) lines.push(`left running: server ${running}`);
  }

  const sweep = async (adapter: Adapter, connection: TargetConnection, where: string): Promise<void> => {
    const client = await adapter.connect(connection);
    try {
      const report = await adapter.cleanup(client, flags.run);
      for (const item of report.removed) lines.push(`removed from ${where}: ${item}`);
      for (const item of report.failed) lines.push(`could not remove from ${where}: ${item}`);
      failed += report.failed.length;
    } finally {
      await adapter.disconnect?.(client);
    }
  };

  for (const adapter of adapters) {
    const up = upTarget(adapter.name);
    if (up) await sweep(adapter, up.connection, `${adapter.name} target left up (${up.connection.address})`);
    if (flags.target === 'external' && adapter.targets.external) {
      const connection = await adapter.targets.external.connect({
        runId: flags.run ?? 'cleanup',
        projectRoot: PROJECT_ROOT,
        workDir: PROJECT_ROOT,
        config: adapterSections(config, [adapter.name])[adapter.name] ?? {},
        ...(flags.config ? { configFile: flags.config } : {}),
        log: (l) => process.stderr.write(`${l}\n`),
      });
      await sweep(adapter, connection, `${adapter.name} at ${connection.address}`);
    }
  }
  for (const line of lines) process.stdout.write(`${line}\n`);
  process.stdout.write(lines.length === 0 ? `nothing left${flags.run ? ` by run ${flags.run}` : ''}\n` : `${lines.length} items handled\n`);
  return failed > 0 ? 1 : 0;
}
