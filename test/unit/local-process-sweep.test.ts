/**
 * Two jitc runs in one project: the one starting sweeps what killed runs left while the other's
 * servers are still launching. The sweep must never take a live run's state away from under it.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { runStateDir, startLocalServer, sweepKilledRuns, type LocalServer } from '../../adapters/local-process.ts';

const project = mkdtempSync(join(tmpdir(), 'jitc-sweep-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('a sweep beside servers that are still starting', () => {
  test('every server of a live run starts and keeps its pid record while another run sweeps in a loop', async () => {
    let sweeping = true;
    const sweeps = (async () => {
      let n = 0;
      while (sweeping) {
        await sweepKilledRuns(project);
        n++;
        await new Promise((r) => setImmediate(r));
      }
      return n;
    })();
    const servers: LocalServer[] = [];
    try {
      for (let round = 0; round < 10; round++) {
        const runId = `sweep${round}`;
        const started = await Promise.all(
          ['a', 'b'].map((name) =>
            startLocalServer({ name, command: '/bin/sleep', args: ['30'], workDir: join(project, 'work', runId, name), projectRoot: project, runId, ready: async () => true }),
          ),
        );
        servers.push(...started);
        expect(readdirSync(runStateDir(project, runId)).sort()).toEqual(['a.json', 'b.json']);
      }
    } finally {
      sweeping = false;
      expect(await sweeps).toBeGreaterThan(0);
      await Promise.all(servers.map((s) => s.stop()));
    }
    // Stopped by their own run: nothing of theirs is left behind.
    expect(existsSync(runStateDir(project)) ? readdirSync(runStateDir(project)) : []).toEqual([]);
  }, 60_000);
});
