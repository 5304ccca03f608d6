/**
 * The scenario file format. Scenario files are data: they name a grant source and a point of use
 * (or an adapter's native pair of both, as `mechanism`), their parameters, the task's approval
 * window and how the grant ends. Parsed once, at the edge.
 */
import { BlockList, isIPv4 } from 'node:net';
import { z } from 'zod';
import { SEVERITIES } from './catalogue.ts';
import { seconds } from './durations.ts';

export const scenarioId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lower-case letters, digits and dashes, 2-63 characters');

export const endSchema = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('expire'),
    /** Clock-skew allowance added to the reuse deadline when waiting for the target to expire the grant. */
    graceSeconds: seconds.default(1),
  }),
  z.strictObject({ mode: z.literal('revoke') }),
  z.strictObject({ mode: z.literal('consumed') }),
]);

const address = z.union([z.ipv4(), z.ipv6()]);

/**
 * Where the task runs, and where a credential bound to it must not work. Every address is one of
 * the machine jitc runs on: the probes leave from it.
 */
export const contextSchema = z
  .strictObject({
    /** The range the binding admits, as the target names it (a bound CIDR, a pg_hba address). */
    boundTo: z.union([z.cidrv4(), z.cidrv6()]),
    /** The address inside `boundTo` the bound-context probe leaves from; absent: `boundTo`'s own address when it is a single host. */
    from: address.optional(),
    /** One or more addresses outside `boundTo`: the credential is tried from each. */
    driftFrom: z.union([address, z.array(address).min(1).max(4)]).transform((a) => (Array.isArray(a) ? a : [a])),
  })
  .transform((c, issue) => {
    const [network, bits] = c.boundTo.split('/') as [string, string];
    const family = isIPv4(network) ? 'ipv4' : 'ipv6';
    const range = new BlockList();
    range.addSubnet(network, Number(bits), family);
    const inside = (a: string): boolean => (isIPv4(a) ? 'ipv4' : 'ipv6') === family && range.check(a, family);
    const single = Number(bits) === (family === 'ipv4' ? 32 : 128);
    const from = c.from ?? (single ? network : undefined);
    if (from === undefined) issue.addIssue({ code: 'custom', path: ['from'], message: `required when boundTo is a range: the address inside ${c.boundTo} the bound-context probe leaves from` });
    else if (!inside(from)) issue.addIssue({ code: 'custom', path: ['from'], message: `${from} is not inside boundTo ${c.boundTo}` });
    // A drifted address inside the range proves nothing: the binding admits it.
    for (const [i, a] of c.driftFrom.entries()) if (inside(a)) issue.addIssue({ code: 'custom', path: ['driftFrom', i], message: `${a} is inside boundTo ${c.boundTo}: a drifted context must lie outside it` });
    return { boundTo: c.boundTo, from: from ?? network, driftFrom: c.driftFrom };
  });
export type ContextSpec = z.output<typeof contextSchema>;

export const scenarioFileSchema = z.strictObject({
  id: scenarioId,
  title: z.string().min(3),
  /** What the scenario proves, in one paragraph a reviewer reads. */
  proves: z.string().min(10),
  /** The point of use's adapter: the scenario belongs to its suite. */
  adapter: z.string().min(1),
  /** A native pair of the adapter (a grant source and a point of use it offers together), with `params` for both. */
  mechanism: z.string().min(1).optional(),
  params: z.record(z.string(), z.unknown()).optional(),
  /** Or the two halves named apart: the grant source (of any adapter) … */
  grant: z
    .strictObject({
      /** The grant source's adapter; absent: the scenario's own. */
      adapter: z.string().min(1).optional(),
      source: z.string().min(1),
      params: z.record(z.string(), z.unknown()).default({}),
    })
    .optional(),
  /** … and the point of use, of the scenario's adapter. */
  use: z.strictObject({ point: z.string().min(1), params: z.record(z.string(), z.unknown()).default({}) }).optional(),
  severity: z.enum(SEVERITIES),
  task: z.strictObject({
    /** Approval window: the privilege must not outlive it. */
    windowSeconds: seconds.refine((s) => s > 0, 'must be more than 0'),
    approver: z.string().min(1).default('jitc-change-approval'),
    needs: z.array(z.string().min(1)).min(1),
  }),
  end: endSchema,
  reuse: z.strictObject({
    /** How long after the end reuse is polled before a still-working credential is a fail. */
    deadlineSeconds: seconds.refine((s) => s > 0, 'must be more than 0'),
    /**
     * Addresses of the target's nodes (replicas behind a sticky balancer), each polled on its own:
     * every node must deny. Absent: the target's own address only.
     */
    nodes: z.array(z.url()).min(1).max(16).optional(),
  }),
  /**
   * The context the grant is bound to (the workload's source addresses): the credential is tried
   * from elsewhere inside the window and must be refused there (`context-bound`, scenarios/drift.ts).
   */
  context: contextSchema.optional(),
  /**
   * An emergency (break-glass) path rather than a routine JIT channel: the result, every evidence
   * event and the reports carry the flag, so an auditor can filter on it, and scheduled runs leave
   * the scenario out unless asked (its grants may page people; README, "Break-glass").
   */
  breakGlass: z.boolean().optional(),
  limits: z
    .strictObject({
      /** Granted scope / needed scope above which `privilege-width` fails. */
      maxPrivilegeWidth: z.number().min(1),
    })
    .optional(),
});

export type ScenarioFile = z.infer<typeof scenarioFileSchema>;
export type EndSpec = z.infer<typeof endSchema>;

/** One half as a scenario names it, with the params its own schema produced. */
export interface HalfRef {
  adapter: string;
  name: string;
  params: unknown;
}

/** A scenario ready to run: the file, both halves with their parsed params, and where it came from. */
export interface Scenario extends Omit<ScenarioFile, 'params' | 'mechanism' | 'grant' | 'use'> {
  /** The native pair's name, when the file named one. */
  pair?: string;
  grant: HalfRef;
  use: HalfRef;
  source: string;
  /** The file's directory, absolute: relative paths in its params are taken from there. */
  dir: string;
}
