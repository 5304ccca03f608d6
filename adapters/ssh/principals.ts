/**
 * Principals the local sshd accepts: one empty file per principal in a directory its
 * AuthorizedPrincipalsCommand lists. A scenario's principal is its own prefix, so it is created
 * at setup, removed at teardown, and swept by its run prefix when a run was killed; no scenario
 * ever rewrites a file another one reads.
 */
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalFiles } from './client.ts';

/** A principal becomes a file name: it must be one, and a principal sshd reads back unchanged. */
function checked(principal: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]*$/.test(principal)) throw new Error(`principal ${JSON.stringify(principal)} cannot be a file name in the principals directory`);
  return principal;
}

export function addPrincipal(local: LocalFiles, principal: string): void {
  writeFileSync(join(local.principalsDir, checked(principal)), '', { mode: 0o600 });
}

export function hasPrincipal(local: LocalFiles, principal: string): boolean {
  return existsSync(join(local.principalsDir, checked(principal)));
}

/** Remove one principal; returns what was removed, as teardown and cleanup word it. */
export function removePrincipal(local: LocalFiles, principal: string): string[] {
  const file = join(local.principalsDir, checked(principal));
  if (!existsSync(file)) return [];
  rmSync(file, { force: true });
  return [`principal ${principal}`];
}

/** Principals whose names start with `start` (a run prefix, or `jitc-` for any run). */
export function principalsStartingWith(local: LocalFiles, start: string): string[] {
  if (!existsSync(local.principalsDir)) return [];
  return readdirSync(local.principalsDir).filter((name) => name.startsWith(start));
}
