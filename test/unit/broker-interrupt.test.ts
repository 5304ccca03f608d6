/**
 * Ctrl-C while the user's broker is being asked: a request under way runs to its answer (the
 * broker may already have granted, and only the answer lets teardown end it), a request not yet
 * sent is never sent, an end still runs in teardown, and a status query stops at once. Over HTTP,
 * a request still awaiting approval when the run is interrupted, or past its approval deadline, is
 * ended so that a later approval grants nothing nobody ends.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { execHooks } from '../../adapters/broker/exec-hooks.ts';
import { HookFailure } from '../../adapters/broker/hooks.ts';
import { httpHooks } from '../../adapters/broker/http-hooks.ts';
import { HOOK_REQUEST, hookScripts } from '../support/hook-scripts.ts';

const scripts = hookScripts();
const { dir, script } = scripts;
afterAll(() => scripts.remove());
const request = HOOK_REQUEST;
const ids = { requestId: 'r-1', credentialId: 'acc-1' };
const ANSWER = '{"requestId":"r-1","approver":"bot","approvedAt":"2026-12-01T10:00:00Z","expiresAt":null}';

describe('exec hooks and an interrupt', () => {
  const hooksWith = (argv: string[], signal: AbortSignal) => execHooks({ request: argv, end: argv, status: argv, timeoutSeconds: 10 }, { passEnv: [], target: {}, own: { PATH: process.env.PATH } }, signal, dir);

  test('a request under way when the run is interrupted runs to its answer', async () => {
    const slow = script('slow-request.sh', `sleep 1; echo '${ANSWER}'`);
    const interrupt = new AbortController();
    const asked = hooksWith([slow], interrupt.signal).request(request);
    setTimeout(() => interrupt.abort('SIGINT'), 200);
    expect((await asked).requestId).toBe('r-1');
  });

  test('a request is not sent once the run is interrupted', async () => {
    const marker = join(dir, 'request-was-run');
    const recording = script('recording-request.sh', `touch ${marker}; echo '${ANSWER}'`);
    const interrupt = new AbortController();
    interrupt.abort('SIGINT');
    const error = await hooksWith([recording], interrupt.signal).request(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HookFailure);
    expect(String(error)).toMatch(/not sent: the run was interrupted/);
    expect(existsSync(marker)).toBe(false);
  });

  test('an end still runs after the interrupt: it is how teardown ends the grant', async () => {
    const end = script('end.sh', `echo '{"ended":true}'`);
    const interrupt = new AbortController();
    interrupt.abort('SIGINT');
    expect((await hooksWith([end], interrupt.signal).end(request, ids)).ended).toBe(true);
  });

  test('a status query under way stops at the interrupt', async () => {
    const slow = script('slow-status.sh', `sleep 20; echo '{"state":"active"}'`);
    const interrupt = new AbortController();
    const started = Date.now();
    const asked = hooksWith([slow], interrupt.signal).status!(request, ids).catch((e: unknown) => e);
    setTimeout(() => interrupt.abort('SIGINT'), 200);
    expect(String(await asked)).toMatch(/stopped: the run was interrupted/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('an HTTP broker request still pending approval', () => {
  /** A broker that keeps every request pending and records what it was asked. */
  async function pendingBroker(): Promise<{ url: string; calls: string[]; server: Server }> {
    const calls: string[] = [];
    const server = createServer((req, res) => {
      calls.push(`${req.method} ${req.url}`);
      req.resume();
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST' && req.url === '/requests') return res.end('{"requestId":"r-9","state":"pending"}');
      if (req.method === 'GET' && req.url === '/requests/r-9') return res.end('{"state":"pending"}');
      if (req.method === 'POST' && req.url === '/requests/r-9/end') return res.end('{"ended":true}');
      res.statusCode = 404;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, server };
  }

  test('is ended when the run is interrupted while jitc waits for the approval', async () => {
    const broker = await pendingBroker();
    try {
      const interrupt = new AbortController();
      const asked = httpHooks({ url: broker.url, renew: false, approvalTimeoutSeconds: 30, timeoutSeconds: 5 }, {}, interrupt.signal).request(request).catch((e: unknown) => e);
      setTimeout(() => interrupt.abort('SIGTERM'), 700);
      const error = await asked;
      expect(String(error)).toMatch(/request r-9 was awaiting approval when the run was interrupted; jitc ended it/);
      expect(broker.calls).toContain('POST /requests/r-9/end');
    } finally {
      broker.server.close();
    }
  });

  test('is ended when its approval deadline passes', async () => {
    const broker = await pendingBroker();
    try {
      const error = await httpHooks({ url: broker.url, renew: false, approvalTimeoutSeconds: 1, timeoutSeconds: 5 }, {}, new AbortController().signal)
        .request(request)
        .catch((e: unknown) => e);
      expect(String(error)).toMatch(/request r-9 was not approved within 1 s; jitc ended it/);
      expect(broker.calls.at(-1)).toBe('POST /requests/r-9/end');
    } finally {
      broker.server.close();
    }
  });
});
