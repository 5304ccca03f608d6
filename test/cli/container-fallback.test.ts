/**
 * `--target container` where no Docker engine answers: one line says so, and the run goes on with
 * the local targets instead of failing late. (Where an engine does answer, the adapters start
 * their testcontainers modules; no engine runs on this project's machines.)
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { dockerEngineAnswers } from '../../adapters/container-engine.ts';
import type { Summary } from '../../reports/writers/summary.ts';
import { jitc } from '../support/cli.ts';

test('without a Docker engine, --target container says so in one line and runs on local targets', async () => {
  const engine = await dockerEngineAnswers();
  if (engine.ok) return expect(engine.why).toBe('Docker engine answers');
  const out = join(mkdtempSync(join(tmpdir(), 'jitc-container-')), 'out');
  const result = jitc(['run', '--suite', 'vault', '--scenario', 'token-revoke-at-task-end', '--target', 'container', '--out', out]);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  const notes = result.stderr.split('\n').filter((l) => l.startsWith('container targets unavailable'));
  expect(notes).toEqual([`container targets unavailable: ${engine.why}; using local targets instead`]);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
  expect(summary.scenarios.map((s) => `${s.target.mode}:${s.verdict}`)).toEqual(['local:pass']);
}, 120_000);

test('a DOCKER_HOST that does not answer is reported as such', async () => {
  const previous = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = 'tcp://127.0.0.1:9';
  try {
    const engine = await dockerEngineAnswers(500);
    expect(engine.ok).toBe(false);
    expect(engine.why).toMatch(/^no Docker engine answers \(ECONNREFUSED\)$/);
  } finally {
    if (previous === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = previous;
  }
});
