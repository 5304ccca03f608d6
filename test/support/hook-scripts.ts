/**
 * What the broker-hook tests share: a directory of hook scripts written per test, and the request
 * jitc sends a hook for one task.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HookRequest } from '../../adapters/broker/hooks.ts';

export interface HookScripts {
  dir: string;
  /** Write an executable shell script with `body`; returns its path. */
  script(name: string, body: string): string;
  remove(): void;
}

export function hookScripts(): HookScripts {
  const dir = mkdtempSync(join(tmpdir(), 'jitc-hook-test-'));
  return {
    dir,
    script(name, body) {
      const file = join(dir, name);
      writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const HOOK_REQUEST: HookRequest = {
  taskId: 'run-1/scenario',
  runId: 'run-1',
  prefix: 'jitc-run-1-scenario',
  windowSeconds: 30,
  approver: 'change-approval',
  scope: ['read the task secret'],
  resource: 'read secret secret/data/x',
  terms: { 'vault.policy': 'jitc-run-1-scenario-read' },
  requester: 'accessor-of-requester',
  credentialType: 'vault-token',
};
