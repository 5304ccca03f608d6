/**
 * What a user's broker answers, over either hook (exec or HTTP): validated with zod at the edge,
 * and published as JSON Schema (docs/broker-answer.schema.json) so a broker's authors can check
 * their answers without jitc. the README's "Testing your own broker" explains every field.
 */
import { z } from 'zod';
import type { Credential, CredentialType } from '../contract.ts';

const text = z.string().min(1).max(4096);
const instant = z.iso.datetime({ offset: true });

/** The credential a broker hands out, by type; secret fields are registered for redaction on arrival. */
export const credentialSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('vault-token'), token: text, accessor: text }),
  z.strictObject({ type: z.literal('aws-keys'), accessKeyId: text, secretAccessKey: text, sessionToken: z.string().min(1).max(8192).optional() }),
  z.strictObject({ type: z.literal('ldap-bind'), dn: text, password: text }),
  z.strictObject({ type: z.literal('db-login'), user: text, password: text }),
  z.strictObject({ type: z.literal('ssh-certificate'), principal: text, certificate: z.string().min(1).max(16384), privateKey: z.string().min(1).max(16384) }),
  z.strictObject({ type: z.literal('tls-client-certificate'), subject: text, serial: text, certificate: z.string().min(1).max(16384), privateKey: z.string().min(1).max(16384) }),
  z.strictObject({ type: z.literal('bearer-token'), token: z.string().min(1).max(16384) }),
]);

// The schema and the contract's union must not drift apart: a mismatch fails to compile here.
const _sameTypes: z.infer<typeof credentialSchema> extends Credential ? (Credential extends z.infer<typeof credentialSchema> ? true : never) : never = true;
void _sameTypes;

/** Every credential type, and `requester`: the grant is a privilege added to the requester's own identity. */
export const CREDENTIAL_KINDS = ['vault-token', 'aws-keys', 'ldap-bind', 'db-login', 'ssh-certificate', 'tls-client-certificate', 'bearer-token', 'requester'] as const satisfies readonly (CredentialType | 'requester')[];
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/** Free text a broker adds: recorded, so capped (and redacted like everything else). */
const detail = z.string().max(500).optional();

/**
 * The objects a broker made for the task on the point of use's target (a role, a policy, an
 * account), each in that target's own reference form (README, "The exec contract"): looked up
 * after the end, so one the broker's end left behind is residue. Names, not secrets.
 */
export const madeSchema = z.array(z.string().min(1).max(1000)).max(50);

export const requestAnswerSchema = z.strictObject({
  requestId: z.string().min(1).max(200),
  approver: z.string().min(1).max(200).nullable(),
  approvedAt: instant.nullable(),
  issuedAt: instant.optional(),
  expiresAt: instant.nullable(),
  credential: credentialSchema.optional(),
  scope: z.array(z.string().min(1).max(500)).max(100).optional(),
  made: madeSchema.optional(),
  detail,
});
export type RequestAnswer = z.infer<typeof requestAnswerSchema>;

export const endAnswerSchema = z.strictObject({ ended: z.boolean(), endedAt: instant.optional(), detail });
export type EndAnswer = z.infer<typeof endAnswerSchema>;

export const renewAnswerSchema = z.strictObject({
  renewed: z.boolean(),
  expiresAt: instant.nullable().optional(),
  approver: z.string().min(1).max(200).nullable().optional(),
  detail,
});
export type RenewAnswer = z.infer<typeof renewAnswerSchema>;

export const REQUEST_STATES = ['pending', 'approved', 'active', 'denied', 'ended', 'expired'] as const;
export const statusAnswerSchema = z.strictObject({
  state: z.enum(REQUEST_STATES),
  expiresAt: instant.nullable().optional(),
  approver: z.string().min(1).max(200).nullable().optional(),
  approvedAt: instant.nullable().optional(),
  detail,
});
export type StatusAnswer = z.infer<typeof statusAnswerSchema>;

/** The HTTP contract's answer to `POST /requests`. */
export const submittedSchema = z.object({ requestId: z.string().min(1).max(200), state: z.enum(REQUEST_STATES) });

export const ANSWERS = {
  request: requestAnswerSchema,
  end: endAnswerSchema,
  renew: renewAnswerSchema,
  status: statusAnswerSchema,
} as const;
export type HookName = keyof typeof ANSWERS;

/** The JSON Schema of every answer, keyed by hook: what docs/broker-answer.schema.json holds. */
export function answerJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'jitc broker hook answers',
    description: 'What a broker prints (exec) or returns (HTTP) for each hook; see the README, "Testing your own broker".',
    $defs: Object.fromEntries(
      Object.entries(ANSWERS).map(([name, schema]) => {
        // One dialect for the whole document: the parts do not repeat it.
        const { $schema: _dialect, ...definition } = z.toJSONSchema(schema, { io: 'input' });
        return [name, definition];
      }),
    ),
  };
}

/**
 * Why an answer was refused, without its values: a path and what was expected. The answer may
 * hold secrets that were never registered, so nothing the broker sent is quoted.
 */
export function describeRefusal(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'the answer'}: ${issue.code === 'invalid_type' ? `expected ${issue.expected}` : issue.code.replace(/_/g, ' ')}`)
    .join('; ');
}
