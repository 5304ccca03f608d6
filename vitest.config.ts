import { defineConfig } from 'vitest/config';

/**
 * Test files that must not share the machine with other jitc runs: a jitc run sweeps the servers
 * killed runs left behind, so another file's run could stop, before the test's own next run does,
 * the servers these tests leave on purpose. They run alone, after everything else.
 */
const ALONE = ['test/cli/kill-cleanup.test.ts'];
/**
 * The CI examples run every suite as a pipeline would, whose gate needs every scenario to pass: on
 * two cores beside another file's targets (the mutant matrix, a Keycloak) its grants' in-window
 * steps came late and ended inconclusive, as they should on a machine that busy. It runs last, by
 * itself, as a pipeline's job would.
 */
const LAST = ['test/cli/ci-examples.test.ts'];

export default defineConfig({
  test: {
    // Integration files start real servers; two cores, so two files at a time.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 300_000,
    globalSetup: ['test/support/global-setup.ts'],
    // As in bin/jitc: the pinned AWS SDK supports Node 20; its notice about later releases is noise here.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: [...ALONE, ...LAST] } },
      { extends: true, test: { name: 'alone', include: ALONE, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'last', include: LAST, sequence: { groupOrder: 2 } } },
    ],
  },
});
