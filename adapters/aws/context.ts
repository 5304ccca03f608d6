/**
 * What both AWS halves run with: the parameter they share (how long IAM may take to propagate a
 * change) and the shapes of their contexts. The point of use (points/) and the grant sources
 * (grants/) each declare it in their params schema, so a native pair's one `params` block hands
 * `propagationSeconds` to both.
 */
import { z } from 'zod';
import { seconds } from '../../scenarios/durations.ts';
import type { GrantContext, PointOfUseProbe, ScenarioContext } from '../contract.ts';
import type { AwsClient } from './client.ts';

/** Parameters every AWS half accepts. */
export const propagationParams = z.strictObject({
  /**
   * How long a fresh IAM change (a new key, a new grant) may take to take effect before the harness
   * gives up. IAM is eventually consistent on AWS (seconds); moto applies changes at once.
   */
  propagationSeconds: seconds.default(20),
});
export type PropagationParams = z.infer<typeof propagationParams>;

/** Either half's context on an AWS target. */
export type AwsContext<P extends PropagationParams = PropagationParams> = ScenarioContext<P, AwsClient>;

/** A grant source's context: it reaches the point of use only through `ctx.pointOfUse` and `ctx.resource`. */
export type AwsGrantContext<P extends PropagationParams = PropagationParams> = GrantContext<P, AwsClient>;

/**
 * Where a holder's extension attempts run (extension/): a half's context — a grant source's, or the
 * point of use's own for keys a user's broker issued — and the privileged action at the point of
 * use, with which whatever the holder minted is probed.
 */
export type AwsHolderContext = AwsContext & { pointOfUse: Pick<PointOfUseProbe, 'probe'> };
