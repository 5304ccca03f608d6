/**
 * Extension attempts for an IAM user's access key (a temporary worker's key, or an identity's own
 * key holding a temporary binding), tried with that key itself:
 *  - GetSessionToken: a session of the same user. AWS needs no permission for it and no policy can
 *    stop it; the session carries the user's permissions and survives the key's deletion, so only
 *    the end of the user's permission ends it. moto asks for sts:GetSessionToken and answers with
 *    AWS's documentation example credentials, which moto itself then refuses.
 *  - GetFederationToken: a federated session under the user's permissions (needs
 *    sts:GetFederationToken on AWS too), asked with a session policy allowing everything.
 *  - CreateAccessKey for itself: a second key, with no end of its own.
 *  - CreateLoginProfile for itself: a console password, with no end of its own.
 * Every grant source handing out or relying on a user key offers these same attempts; what a
 * minted credential can still do is asked at the point of use (ctx.pointOfUse).
 */
import { randomBytes } from 'node:crypto';
import { CreateAccessKeyCommand, CreateLoginProfileCommand, GetLoginProfileCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, GetFederationTokenCommand, GetSessionTokenCommand, type Credentials as StsCredentials } from '@aws-sdk/client-sts';
import type { ExtensionAttempt, ExtensionMoment, ExtensionResult, ProbeResult } from '../../contract.ts';
import type { SecretRegistry } from '../../../scenarios/secrets.ts';
import type { AwsContext, AwsHolderContext } from '../context.ts';
import { type AwsKeys, bornKeys } from '../credentials.ts';
import { probe } from '../probes.ts';
import { awaitAuthenticates } from '../propagation.ts';
import { askedSeconds, minted, notMinted } from './attempt.ts';
import { mintedHandle, rememberSession } from './minted.ts';

/** AWS's bounds for GetSessionToken and GetFederationToken DurationSeconds (IAM user credentials). */
const USER_SESSION_MIN = 900;
const USER_SESSION_MAX = 129_600;

export interface UserKeyHolder {
  ctx: AwsHolderContext;
  /** The IAM user the key belongs to. */
  user: string;
  /** The key the holder was given (read when the attempt runs). */
  credentials: () => AwsKeys;
  /** When the approval window ends, ms since the epoch. */
  windowEndsAt: number;
  /**
   * Told of every key or console password the holder made on its user, for a half that must remove
   * them itself (a point of use, for keys a user's broker issued); a grant source removes the user.
   */
  onMinted?: (made: MadeOnUser) => void;
}

/** What the holder made on its own user that IAM keeps until someone removes it. */
export type MadeOnUser = { user: string; accessKeyId: string } | { user: string; loginProfile: true };

type Sts = ReturnType<AwsContext['client']['as']>;

/** Run `body` with clients signing as the holder, one new connection per request. */
async function asHolder<T>(h: UserKeyHolder, body: (c: Sts) => Promise<T>): Promise<T> {
  const c = h.ctx.client.as(h.credentials());
  try {
    return await body(c);
  } finally {
    c.destroy();
  }
}

/** Does a minted credential authenticate at all? Said in the detail: moto's minted sessions do not. */
async function authenticates(ctx: AwsContext, credentials: AwsKeys): Promise<string> {
  const c = ctx.client.as(credentials);
  try {
    const answer = await probe(async () => {
      await c.sts.send(new GetCallerIdentityCommand({}));
    });
    return answer.outcome === 'allowed' ? 'it authenticates' : `it does not authenticate (${answer.detail})`;
  } finally {
    c.destroy();
  }
}

function sessionCredentials(secrets: SecretRegistry, c: StsCredentials | undefined, what: string): { credentials: AwsKeys; expiration: number } {
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error(`${what} answered without credentials`);
  return { credentials: bornKeys(secrets, { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken }), expiration: c.Expiration.getTime() };
}

/** A minted user session (GetSessionToken, GetFederationToken): remembered, probed, judged. */
async function userSession(h: UserKeyHolder, moment: ExtensionMoment, call: string, mint: (c: Sts, seconds: number) => Promise<StsCredentials | undefined>): Promise<ExtensionResult> {
  const { ctx } = h;
  const seconds = askedSeconds(moment, h.windowEndsAt, USER_SESSION_MIN, USER_SESSION_MAX);
  let issued: { credentials: AwsKeys; expiration: number };
  try {
    issued = sessionCredentials(ctx.secrets, await asHolder(h, (c) => mint(c, seconds)), call);
  } catch (error) {
    return notMinted(error, `${call} for ${seconds} s`);
  }
  const label = `${call} session ${issued.credentials.accessKeyId} of ${h.user}`;
  rememberSession(ctx, { label, credential: issued.credentials });
  return minted(ctx, moment, {
    what: `${call} for ${seconds} s issued session ${issued.credentials.accessKeyId} until ${new Date(issued.expiration).toISOString()}; ${await authenticates(ctx, issued.credentials)}`,
    credentialEnd: issued.expiration,
    principal: { user: h.user },
    handles: [mintedHandle(ctx, label, issued.credentials)],
    useTask: () => ctx.pointOfUse.probe(issued.credentials),
  });
}

/** The console password the holder gave itself: "allowed" while the target still holds it. */
async function loginProfileHeld(ctx: AwsContext, user: string, node?: string): Promise<ProbeResult> {
  const c = ctx.client.asBroker(node);
  try {
    return await probe(async () => {
      await c.iam.send(new GetLoginProfileCommand({ UserName: user }));
      return `GetLoginProfile ${user}: a console password is still set`;
    }, ['NoSuchEntity', 'NoSuchEntityException']);
  } finally {
    c.destroy();
  }
}

export function userKeyExtensions(h: UserKeyHolder): ExtensionAttempt[] {
  const { ctx } = h;
  return [
    {
      name: 'GetSessionToken with the key (a session of its own user)',
      attempt: (moment) => userSession(h, moment, 'GetSessionToken', (c, seconds) => c.sts.send(new GetSessionTokenCommand({ DurationSeconds: seconds })).then((a) => a.Credentials)),
    },
    {
      name: 'GetFederationToken with the key (a federated session under its user)',
      attempt: (moment) =>
        userSession(h, moment, 'GetFederationToken', (c, seconds) =>
          c.sts
            .send(
              new GetFederationTokenCommand({
                Name: `jitc-${ctx.runId}`.slice(0, 32),
                DurationSeconds: seconds,
                // Without a session policy a federated session holds nothing; the holder asks for all its user has.
                Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
              }),
            )
            .then((a) => a.Credentials),
        ),
    },
    {
      name: 'CreateAccessKey for itself (a second key, no end of its own)',
      async attempt(moment) {
        let key: AwsKeys;
        try {
          const answer = await asHolder(h, (c) => c.iam.send(new CreateAccessKeyCommand({})));
          const k = answer.AccessKey;
          if (!k?.AccessKeyId || !k.SecretAccessKey) throw new Error('CreateAccessKey answered without a key');
          key = bornKeys(ctx.secrets, { accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey });
        } catch (error) {
          return notMinted(error, 'CreateAccessKey for itself');
        }
        h.onMinted?.({ user: h.user, accessKeyId: key.accessKeyId });
        return minted(ctx, moment, {
          what: `CreateAccessKey for itself issued key ${key.accessKeyId} on ${h.user}`,
          credentialEnd: null,
          principal: { user: h.user },
          handles: [mintedHandle(ctx, `access key ${key.accessKeyId} the holder made for ${h.user}`, key)],
          async useTask() {
            // A new key takes a moment to work on AWS: a refusal before it authenticates proves nothing.
            try {
              await awaitAuthenticates(ctx, key, `key ${key.accessKeyId} the holder made`);
            } catch (error) {
              return { outcome: 'unknown', at: new Date().toISOString(), detail: `the key never authenticated: ${error instanceof Error ? error.message : String(error)}` };
            }
            return ctx.pointOfUse.probe(key);
          },
        });
      },
    },
    {
      name: 'CreateLoginProfile for itself (a console password, no end of its own)',
      async attempt(moment) {
        const password = `${randomBytes(18).toString('base64url')}aA1!`;
        ctx.secrets.add(password);
        try {
          await asHolder(h, (c) => c.iam.send(new CreateLoginProfileCommand({ UserName: h.user, Password: password })));
        } catch (error) {
          return notMinted(error, `CreateLoginProfile for ${h.user}`);
        }
        h.onMinted?.({ user: h.user, loginProfile: true });
        return minted(ctx, moment, {
          what: `CreateLoginProfile gave ${h.user} a console password`,
          credentialEnd: null,
          principal: { user: h.user },
          handles: [{ name: `console password the holder set on ${h.user}`, check: 'derived-credentials-denied', probe: (node) => loginProfileHeld(ctx, h.user, node) }],
          // The password signs in as the same user: what the user's key may do, the console may.
          useTask: () => ctx.pointOfUse.probe(h.credentials()),
        });
      },
    },
  ];
}
