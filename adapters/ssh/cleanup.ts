/**
 * `jitc cleanup` for the ssh adapter: what a run left carries its run prefix — principal files
 * in the local sshd's principals directory, and the client directories (keys, certificates,
 * control sockets) on this machine. Each scenario's teardown removes its own through the same
 * functions; this sweep is `jitc cleanup`, for a run or for every jitc run.
 */
import { rmSync } from 'node:fs';
import { type CleanupReport, runPrefix } from '../contract.ts';
import type { SshClient } from './client.ts';
import { clientDirsStartingWith } from './client-files.ts';
import { principalsStartingWith, removePrincipal } from './principals.ts';

export async function cleanupSsh(client: SshClient, runId: string | undefined): Promise<CleanupReport> {
  const prefix = runPrefix(runId);
  const report: CleanupReport = { removed: [], failed: [] };
  const attempt = (what: string, action: () => string[] | void): void => {
    try {
      const removed = action();
      report.removed.push(...(removed ?? [what]));
    } catch (error) {
      report.failed.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const local = client.local;
  if (local) for (const principal of principalsStartingWith(local, prefix)) attempt(`principal ${principal}`, () => removePrincipal(local, principal));
  // Client files live on this machine whatever the target mode.
  for (const dir of clientDirsStartingWith(prefix)) attempt(`client directory ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return report;
}
