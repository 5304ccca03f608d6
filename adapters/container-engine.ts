/**
 * Is there a Docker engine to run containers? Asked up front, over the engine's own socket, so
 * `--target container` can say in one line that it falls back to `local` instead of failing late.
 */
import { existsSync } from 'node:fs';
import { request, type RequestOptions } from 'node:http';
import { urlToHttpOptions } from 'node:url';

function socketPath(): string | undefined {
  const host = process.env.DOCKER_HOST;
  if (host?.startsWith('unix://')) return host.slice('unix://'.length);
  if (host) return undefined;
  return '/var/run/docker.sock';
}

export async function dockerEngineAnswers(timeoutMs = 1500): Promise<{ ok: boolean; why: string }> {
  const host = process.env.DOCKER_HOST;
  const socket = socketPath();
  if (socket !== undefined && !existsSync(socket)) return { ok: false, why: `no Docker engine socket at ${socket}` };
  const target: RequestOptions =
    socket === undefined
      ? { ...urlToHttpOptions(new URL('/_ping', (host ?? '').replace(/^tcp:/, 'http:'))), timeout: timeoutMs }
      : { socketPath: socket, path: '/_ping', method: 'GET', timeout: timeoutMs };
  return new Promise((resolve) => {
    const req = request(
      target,
      (res) => {
        res.resume();
        resolve(res.statusCode === 200 ? { ok: true, why: 'Docker engine answers' } : { ok: false, why: `Docker engine answered HTTP ${res.statusCode}` });
      },
    );
    req.on('timeout', () => {
      req.destroy();
      resolve({ ok: false, why: `Docker engine did not answer within ${timeoutMs} ms` });
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, why: `no Docker engine answers (${error.code ?? error.message})` }));
    req.end();
  });
}
