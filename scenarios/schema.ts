/**
 * The scenario file format. Scenario files are data: they name an adapter mechanism, its
 * parameters, the task's approval window and how the grant ends. Parsed once, at the edge.
 */
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

export const scenarioFileSchema = z.strictObject({
  id: scenarioId,
  title: z.string().min(3),
  /** What the scenario proves, in one paragraph a reviewer reads. */
  proves: z.string().min(10),
  adapter: z.string().min(1),
  mechanism: z.string().min(1),
  severity: z.enum(SEVERITIES),
  params: z.record(z.string(), z.unknown()).default({}),
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
  limits: z
    .strictObject({
      /** Granted scope / needed scope above which `privilege-width` fails. */
      maxPrivilegeWidth: z.number().min(1),
    })
    .optional(),
});

export type ScenarioFile = z.infer<typeof scenarioFileSchema>;
export type EndSpec = z.infer<typeof endSchema>;

/** A scenario ready to run: the file, its mechanism's parsed params, and where it came from. */
export interface Scenario extends Omit<ScenarioFile, 'params'> {
  params: unknown;
  source: string;
}
