/**
 * `http`: the user's broker as an access-request API — submit, poll the approval with a deadline,
 * fetch the credential, end, renew — under the contract of the README's "Testing your own broker". Its credentials
 * (bearer token, client certificate) are named by environment variable, never written in the file.
 */
import { z } from 'zod';
import { envName } from '../../param-fields.ts';
import { seconds } from '../../../scenarios/durations.ts';
import { brokeredSource, brokerParams } from '../brokered.ts';
import { httpHooks } from '../http-hooks.ts';


const params = brokerParams.extend({
  url: z.url({ protocol: /^https?$/ }),
  auth: z.union([z.strictObject({ bearerEnv: envName }), z.strictObject({ certEnv: envName, keyEnv: envName, caEnv: envName.optional() })]).optional(),
  /** The API offers `POST /requests/{id}/renew`: jitc asks it once, without a new approval. */
  renew: z.boolean().default(false),
  approvalTimeoutSeconds: seconds.refine((s) => s > 0 && s <= 3600, 'between 0 and 3600 seconds').default(60),
  timeoutSeconds: seconds.refine((s) => s > 0 && s <= 600, 'between 0 and 600 seconds').default(30),
});
type HttpParams = z.infer<typeof params>;

export const httpSource = brokeredSource<HttpParams>({
  title: "The user's broker, driven through its access-request API (submit, approve, fetch, end)",
  params,
  renews: (p) => p.renew,
  hooks: (ctx) => httpHooks(ctx.params, process.env, ctx.signal),
});
