/**
 * Local targets shared by every test file of one test session: those too slow to start per file.
 * A Keycloak takes 20–50 s of a two-core machine to start and holds ≈ 450 MB; started by each file
 * whose scenarios reach it (the identity provider's own, Vault's federated login, the mutant
 * matrix), a full session paid that several times over and the starts competed with the tests.
 *
 * The session's main process owns them: test workers are processes of their own that end with
 * their file, and a server they started would end with them (its watchdog holds their pipe). The
 * main process serves a loopback endpoint; the first file that asks for a target starts it, every
 * later one is given the same connection, and the session's teardown stops it by its pid. A session
 * whose files never ask starts nothing. Outside a test session (`npm run assurance`) every caller
 * starts its own.
 *
 * Sharing is safe because everything a scenario makes on the target carries its own run id (a
 * realm per scenario), which is also what each file's "leaves nothing behind" sweep looks for.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StartedTarget, TargetConnection } from '../../adapters/contract.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { testRunId } from './run-id.ts';

/** Adapters whose local target one session shares. */
export const SHARED_ADAPTERS: ReadonlySet<string> = new Set(['idp']);

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where the session's shared targets are asked for (http://127.0.0.1:port). */
    sessionTargets: string;
  }
}

export interface SessionTargets {
  url: string;
  stop(): Promise<void>;
}

/** The main process's side: the endpoint, and the targets it started once asked. */
export async function serveSessionTargets(log: (line: string) => void): Promise<SessionTargets> {
  const runId = testRunId();
  const started = new Map<string, Promise<StartedTarget>>();
  const start = (name: string): Promise<StartedTarget> => {
    let target = started.get(name);
    if (!target) {
      target = getAdapter(name).then(async (adapter) => (await bringUp([adapter], { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log }))[0]!);
      // A start that failed is tried again by the next file that asks, not handed to every file as the same failure.
      target.catch(() => started.delete(name));
      started.set(name, target);
    }
    return target;
  };
  const server: Server = createServer((request, response) => {
    const name = decodeURIComponent((request.url ?? '/').slice(1));
    if (request.method !== 'POST' || !SHARED_ADAPTERS.has(name)) {
      response.writeHead(404).end();
      return;
    }
    start(name).then(
      (target) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(target.connection)),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(error instanceof Error ? error.message : String(error)),
    );
  });
  // A Keycloak start on a loaded machine can take minutes; the asking file waits that long.
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const targets = await Promise.allSettled(started.values());
      await Promise.allSettled(targets.flatMap((t) => (t.status === 'fulfilled' ? [t.value.stop()] : [])));
    },
  };
}

/**
 * A test file's side: the session's shared target for `adapterName`, or undefined when there is no
 * session to share it (the caller starts its own). Stopping it is the session's, so its stop() does nothing.
 */
export async function sessionTarget(adapterName: string): Promise<StartedTarget | undefined> {
  if (!SHARED_ADAPTERS.has(adapterName) || !process.env.VITEST) return undefined;
  const { inject } = await import('vitest');
  const url = inject('sessionTargets');
  if (!url) return undefined;
  const response = await fetch(`${url}/${encodeURIComponent(adapterName)}`, { method: 'POST' });
  const body = await response.text();
  if (!response.ok) throw new Error(`the session's shared ${adapterName} target did not start: ${body}`);
  return { connection: JSON.parse(body) as TargetConnection, stop: async () => undefined };
}
