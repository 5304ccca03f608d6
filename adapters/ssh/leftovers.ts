/**
 * What a run left for an sshd, read where it lives: principal files of the local sshd and client
 * directories on this machine whose names contain `jitc-<runId>-`. Deliberately wider than the
 * cleanup sweep's own matching (a name that starts with the prefix), and worded as the sweep
 * words its removals, so a sweep that misses something shows.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runPrefix } from '../contract.ts';
import type { SshClient } from './client.ts';
import { clientsBase } from './client-files.ts';

export async function sshLeftovers(client: SshClient, runId: string): Promise<string[]> {
  const prefix = runPrefix(runId);
  const found: string[] = [];
  const local = client.local;
  if (local && existsSync(local.principalsDir)) for (const name of readdirSync(local.principalsDir)) if (name.includes(prefix)) found.push(`principal ${name}`);
  const base = clientsBase();
  if (existsSync(base)) for (const name of readdirSync(base)) if (name.includes(prefix)) found.push(`client directory ${join(base, name)}`);
  return found.sort();
}
