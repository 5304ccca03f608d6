/**
 * Connections bound during the task. LDAP authorises each operation against the identity a
 * connection is bound as; nothing in the protocol ends a connection when the grant behind it ends.
 * So a connection opened during the task is kept open across the end and probed again, and the
 * server is asked who it still believes the connection is (RFC 4532 "Who am I?").
 */
import type { Client } from 'ldapts';
import type { ProbeResult, ReuseHandle } from '../contract.ts';
import type { LdapContext, Identity } from './fixtures.ts';
import { bindAndRead, classifyLdapError, readProtected, type ReadTarget, whoAmI } from './probes.ts';

const PROTECTED = 'protectedTarget';

/** The entry and attribute whose read is the privileged action: the layout's, unless the point of use named an existing one. */
export function protectedTarget(ctx: LdapContext): ReadTarget {
  return (ctx.state.get(PROTECTED) as ReadTarget | undefined) ?? { dn: ctx.client.layout.resourceDn, attribute: ctx.client.layout.resourceAttribute };
}

/** Name an existing entry and attribute as the privileged read, for every probe made with this context. */
export function setProtectedTarget(ctx: LdapContext, target: ReadTarget): void {
  ctx.state.set(PROTECTED, target);
}

/** Probe: bind a NEW connection as `identity` (to the target, or to the node `node`) and read the protected attribute. */
export function newConnectionRead(ctx: LdapContext, identity: Pick<Identity, 'dn' | 'password'>, node?: string): Promise<ProbeResult> {
  return bindAndRead(() => ctx.client.open(node), identity.dn, identity.password, protectedTarget(ctx), (v) => ctx.secrets.add(v));
}

/** Bind a connection for the task. Returns the connection, or the bind's answer when it was refused. */
export async function openSession(ctx: LdapContext, identity: Pick<Identity, 'dn' | 'password'>): Promise<{ session: Client } | { refused: ProbeResult }> {
  const session = ctx.client.open();
  try {
    await session.bind(identity.dn, identity.password);
    return { session };
  } catch (error) {
    await session.unbind().catch(() => undefined);
    return { refused: classifyLdapError(error, 'bind') };
  }
}

/** The protected read on the connection bound during the task, with who the server says it is. */
function openSessionRead(ctx: LdapContext, session: Client): () => Promise<ProbeResult> {
  return async () => {
    const result = await readProtected(session, protectedTarget(ctx), (v) => ctx.secrets.add(v));
    return { ...result, detail: `${result.detail}; Who am I? ${await whoAmI(session)}` };
  };
}

/**
 * What an authenticated identity may read and an anonymous one may not (the protected entry
 * itself, not its protected attribute). Only meaningful where anonymous reads are refused, which
 * the caller checks first.
 */
async function readEntry(session: Client, dn: string, fresh = false): Promise<ProbeResult> {
  // A kept-open connection that dropped must not be reopened: ldapts would reconnect anonymously.
  if (!fresh && !session.isConnected) return { outcome: 'unknown', at: new Date().toISOString(), detail: 'the connection is closed; it is not reopened, which would read anonymously' };
  try {
    const result = await session.search(dn, { scope: 'base', attributes: ['objectClass'] });
    if (result.searchEntries.length > 0) return { outcome: 'allowed', at: new Date().toISOString(), detail: `read the entry ${dn} as an authenticated identity` };
    return { outcome: 'unknown', at: new Date().toISOString(), detail: `base search of ${dn} returned nothing and no error` };
  } catch (error) {
    return classifyLdapError(error, 'read');
  }
}

export interface SessionHandleOptions {
  /** The identity itself is the grant (a temporary account): also probe what it may read as "any authenticated identity". */
  identityIsTheGrant: boolean;
}

/** Keep `session` open past the end: the handles the engine probes on it after the grant ended. */
export async function keepSessionOpen(ctx: LdapContext, session: Client, boundAs: string, options: SessionHandleOptions): Promise<ReuseHandle[]> {
  const close = async (): Promise<void> => {
    if (session.isConnected) await session.unbind();
  };
  const handles: ReuseHandle[] = [
    {
      name: 'LDAP connection bound during the task (protected read)',
      check: 'session-ended-with-task',
      probe: openSessionRead(ctx, session),
      boundToConnection: true,
      close,
    },
  ];
  ctx.evidence.record('connection bound during the task kept open across the end of the grant', { boundAs, whoAmI: await whoAmI(session) });
  // A requester that only held a membership is still an authenticated identity after the end,
  // rightly: only an identity that was itself the grant must lose what any identity may read.
  if (!options.identityIsTheGrant) return handles;

  const { dn } = protectedTarget(ctx);
  const anonymous = ctx.client.open();
  const baseline = await readEntry(anonymous, dn, true).finally(() => anonymous.unbind().catch(() => undefined));
  if (baseline.outcome !== 'denied') {
    ctx.evidence.record('authenticated-identity read not probed: an anonymous connection is not refused it either', { anonymous: baseline.outcome, answer: baseline.detail });
    return handles;
  }
  handles.push({
    name: 'LDAP connection bound during the task (authenticated-identity read)',
    check: 'session-ended-with-task',
    boundToConnection: true,
    probe: async () => {
      const result = await readEntry(session, dn);
      return { ...result, detail: `${result.detail}; Who am I? ${await whoAmI(session)}` };
    },
  });
  return handles;
}
