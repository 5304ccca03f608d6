/**
 * The user's own broker as a grant source: `exec` runs the commands a scenario names, `http` talks
 * to an access-request API. It has no point of use — the credential it hands out is judged where it
 * is used (a Vault secret, an S3 object, a directory entry) — and nothing of its own to sweep: what
 * it created on a target carries the run prefix it was given, and that target's cleanup removes it.
 * the README's "Testing your own broker" is the contract.
 */
import type { Adapter } from '../contract.ts';
import type { BrokerClient } from './brokered.ts';
import { execSource } from './grants/exec.ts';
import { httpSource } from './grants/http.ts';
import { brokerTargets } from './targets.ts';

const brokerAdapter: Adapter<BrokerClient> = {
  name: 'broker',
  title: 'Your own broker (exec or HTTP hooks)',
  products: ['any access broker with a command line or an HTTP API'],
  targets: brokerTargets,
  connect: async () => ({}),
  grantSources: { exec: execSource, http: httpSource },
  pointsOfUse: {},
  pairs: {},
  cleanup: async () => ({ removed: [], failed: [] }),
  leftovers: async () => [],
};

export default brokerAdapter;
