/**
 * Local targets shared by every test file of one test session: those too slow to start per file.
 * A Keycloak takes 20–50 s of a two-core machine to start and holds ≈ 450 MB; started by each file
 * whose scenarios reach it (the identity provider's own, Vault's federated login, the mutant
 * matrix), a full session paid that several times over and the starts competed with the tests.
 *
 * The session's main process owns them: test workers are processes of their own that end with
 * their file, and a server they started would end with them (its watchdog holds their pipe). The
 * main process serves a loopback endpoint; a file that asks is lent a server no other file holds
 * (started then if none is free), gives it back when it is done, and the session's teardown stops
 * every one by its pid. A session whose files never ask starts nothing. Outside a test session
 * (`npm run assurance`) every caller starts its own.
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

/**
 * The main process's side: the endpoint, and the targets it started once asked. A file holds a
 * target alone while it runs (`POST /acquire/<adapter>`, `POST /release/<adapter>/<n>`): files
 * that run at once get a server each, so one file's load (a Keycloak serialises its admin writes
 * on one database) never slows another's deadlines; a file that comes later reuses a server
 * another file released. The session starts at most as many as ran at once.
 */
export async function serveSessionTargets(log: (line: string) => void): Promise<SessionTargets> {
  const runId = testRunId();
  interface Entry {
    target: Promise<StartedTarget>;
    started?: StartedTarget;
    busy: boolean;
  }
  const pools = new Map<string, Entry[]>();
  const acquire = async (name: string): Promise<{ id: number; target: StartedTarget }> => {
    const pool = pools.get(name) ?? [];
    pools.set(name, pool);
    let id = pool.findIndex((entry) => !entry.busy);
    if (id < 0) {
      const entry: Entry = { target: getAdapter(name).then(async (adapter) => (await bringUp([adapter], { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log }))[0]!), busy: true };
      // A start that failed stays busy for good: the next file that asks starts another.
      entry.target.then((t) => (entry.started = t), () => undefined);
      id = pool.push(entry) - 1;
    }
    pool[id]!.busy = true;
    return { id, target: await pool[id]!.target };
  };
  const server: Server = createServer((request, response) => {
    const [verb, name = '', id] = (request.url ?? '/').slice(1).split('/').map(decodeURIComponent);
    if (request.method !== 'POST' || !SHARED_ADAPTERS.has(name)) {
      response.writeHead(404).end();
      return;
    }
    if (verb === 'release') {
      const entry = pools.get(name)?.[Number(id)];
      if (entry) entry.busy = false;
      response.writeHead(204).end();
      return;
    }
    acquire(name).then(
      ({ id: n, target }) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: n, connection: target.connection })),
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
      // One still starting is stopped by its watchdog when this process ends.
      await Promise.allSettled([...pools.values()].flat().flatMap((entry) => (entry.started ? [entry.started.stop()] : [])));
    },
  };
}

/**
 * A test file's side: a session target for `adapterName` held by this file alone until its stop(),
 * which hands it back to the session (stopping it is the session's); undefined when there is no
 * session to share it (the caller starts its own).
 */
export async function sessionTarget(adapterName: string): Promise<StartedTarget | undefined> {
  if (!SHARED_ADAPTERS.has(adapterName) || !process.env.VITEST) return undefined;
  const { inject } = await import('vitest');
  const url = inject('sessionTargets');
  if (!url) return undefined;
  const name = encodeURIComponent(adapterName);
  const response = await fetch(`${url}/acquire/${name}`, { method: 'POST' });
  const body = await response.text();
  if (!response.ok) throw new Error(`the session's shared ${adapterName} target did not start: ${body}`);
  const { id, connection } = JSON.parse(body) as { id: number; connection: TargetConnection };
  return { connection, stop: async () => void (await fetch(`${url}/release/${name}/${id}`, { method: 'POST' })) };
}
