/**
 * Generators of malformed input for the property tests: each starts from a valid document (a
 * built-in scenario, a config, a waiver file) and breaks exactly one thing, so the field the error
 * must name is known. Every value a generator produces is wrong by construction (filtered against
 * the rule it breaks), never "probably wrong".
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { SEVERITIES } from '../../scenarios/catalogue.ts';
import { BUILTIN_DIR } from '../../scenarios/load.ts';

/** A malformed file: its text, and what the one-line error must start with after the file name. */
export interface Malformed {
  text: string;
  /** The field path as the message writes it ("task.windowSeconds", "waivers.2.expires", "(top level)"). */
  field: string;
  /** What was broken, for the failure message of a counterexample. */
  what: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Kind = 'string' | 'number' | 'boolean' | 'array' | 'object' | 'null';

function kindOf(value: unknown): Kind {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value as Kind;
}

const word = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,11}$/);

/** A value of any kind but the ones listed (null included: no field here is nullable). */
export function wrongType(...not: Kind[]): fc.Arbitrary<Json> {
  const all: Record<Kind, fc.Arbitrary<Json>> = {
    string: fc.string({ maxLength: 12 }),
    number: fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 })),
    boolean: fc.boolean(),
    array: fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.integer()), { maxLength: 3 }),
    object: fc.dictionary(word, fc.oneof(fc.string({ maxLength: 6 }), fc.integer()), { maxKeys: 3 }),
    null: fc.constant(null),
  };
  return fc.oneof(...(Object.keys(all) as Kind[]).filter((k) => !not.includes(k)).map((k) => all[k]));
}

/** Any string that does not match `rule`. */
const stringNot = (rule: (s: string) => boolean, arb: fc.Arbitrary<string> = fc.string({ maxLength: 20 })): fc.Arbitrary<string> => arb.filter((s) => !rule(s));

/** A text that is not a duration scenario files accept (3, "3s", "500ms", "15m"). */
const notDuration = stringNot((s) => /^\s*\d+(?:\.\d+)?\s*(ms|s|m|h)\s*$/.test(s));

/** A key no schema knows, and no adapter section either. */
const unknownKey = (known: readonly string[]): fc.Arbitrary<string> => word.filter((k) => !known.includes(k) && !['vault', 'aws', 'ldap'].includes(k));

/** Documents that are YAML, but not a mapping at the top. */
const notAMapping: fc.Arbitrary<Json> = fc.oneof(fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { minLength: 1, maxLength: 3 }), fc.string({ minLength: 1, maxLength: 12 }), fc.integer(), fc.boolean());

/**
 * Text that is not YAML at all: a valid document with one broken line spliced in — an unclosed
 * flow collection or quote, a tab where indentation belongs, a key given twice.
 */
function brokenYaml(valid: string): fc.Arbitrary<Malformed> {
  const lines = valid.split('\n');
  const firstKey = /^([A-Za-z][A-Za-z0-9_]*):/.exec(valid)?.[1] ?? 'id';
  const breakage = fc.oneof(
    word.map((k) => `${k}: [unclosed, list`),
    word.map((k) => `${k}: {unclosed: map`),
    word.map((k) => `${k}: "unterminated`),
    word.map((k) => `\t${k}: tab-indented`),
    fc.constant(`${firstKey}: given twice`),
  );
  return fc.tuple(fc.integer({ min: 0, max: lines.length }), breakage).map(([at, line]) => ({
    text: [...lines.slice(0, at), line, ...lines.slice(at)].join('\n'),
    field: 'not valid YAML (',
    what: `line ${at + 1} replaced by ${JSON.stringify(line)}`,
  }));
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function setPath(doc: Record<string, Json>, path: readonly string[], value: Json | undefined): void {
  let node = doc as Record<string, Json>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, Json>;
  const last = path.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

/** One mutation of a document: the field it breaks and the value that breaks it (undefined: removed). */
interface Mutation {
  path: readonly string[];
  value: Json | undefined;
  what: string;
}

function mutated(base: fc.Arbitrary<Record<string, Json>>, mutations: (doc: Record<string, Json>) => fc.Arbitrary<Mutation>): fc.Arbitrary<Malformed> {
  return base.chain((doc) =>
    mutations(doc).map((m) => {
      const copy = clone(doc);
      setPath(copy, m.path, m.value);
      return { text: stringify(copy), field: m.path.join('.'), what: `${m.path.join('.')}: ${m.what} (${JSON.stringify(m.value) ?? 'removed'})` };
    }),
  );
}

const at = (path: readonly string[], what: string) => (value: Json | undefined): Mutation => ({ path, value, what });

// ---------------------------------------------------------------- scenario files

/** Every built-in scenario, parsed: the valid starting points. */
export const BUILTIN_SCENARIOS: Record<string, Json>[] = readdirSync(BUILTIN_DIR).flatMap((adapter) =>
  readdirSync(join(BUILTIN_DIR, adapter))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => parse(readFileSync(join(BUILTIN_DIR, adapter, f), 'utf8')) as Record<string, Json>),
);

const ADAPTERS = ['vault', 'aws', 'ldap'];
const SCENARIO_KEYS = ['id', 'title', 'proves', 'adapter', 'mechanism', 'severity', 'params', 'task', 'end', 'reuse', 'limits', 'grant', 'use'];

function scenarioMutations(doc: Record<string, Json>): fc.Arbitrary<Mutation> {
  // A scenario names either a native mechanism with its params, or its two halves apart (grant: and use:).
  const split = doc.grant !== undefined;
  const paramsPath = split ? ['grant', 'params'] : ['params'];
  const params = ((split ? (doc.grant as Record<string, Json>).params : doc.params) ?? {}) as Record<string, Json>;
  const paramKeys = Object.keys(params);
  const endMode = (doc.end as Record<string, Json>).mode;
  const shapeKeys = split ? ['grant', 'use'] : ['mechanism'];
  const options: fc.Arbitrary<Mutation>[] = [
    fc.constantFrom('id', 'title', 'proves', 'adapter', ...shapeKeys, 'severity', 'task', 'end', 'reuse').map((k) => at([k], 'required, removed')(undefined)),
    fc.constantFrom(['task', 'windowSeconds'], ['task', 'needs'], ['end', 'mode'], ['reuse', 'deadlineSeconds']).map((p) => at(p, 'required, removed')(undefined)),
    wrongType('string').map(at(['id'], 'not a string')),
    stringNot((s) => /^[a-z0-9][a-z0-9-]{1,62}$/.test(s)).map(at(['id'], 'not an id')),
    fc.string({ maxLength: 2 }).map(at(['title'], 'shorter than 3')),
    fc.string({ maxLength: 9 }).map(at(['proves'], 'shorter than 10')),
    stringNot((s) => (SEVERITIES as readonly string[]).includes(s)).map(at(['severity'], 'not a severity')),
    wrongType('string').map(at(['severity'], 'not a string')),
    stringNot((s) => ADAPTERS.includes(s), fc.string({ minLength: 1, maxLength: 12 })).map(at(['adapter'], 'not an adapter')),
    ...(split ? [] : [fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !['token', 'approle', 'wrapping', 'assume-role', 'access-key', 'policy-binding', 'dynamic-account', 'group-membership'].includes(s)).map(at(['mechanism'], 'not a mechanism of the adapter'))]),
    wrongType('object').map(at(['task'], 'not a mapping')),
    fc.oneof(fc.constant(0), fc.integer({ min: -10_000, max: -1 }), notDuration).map(at(['task', 'windowSeconds'], 'not a positive duration')),
    fc.constant<Json>([]).map(at(['task', 'needs'], 'empty list')),
    fc.constantFrom('', ' ', '\t', '   ').map((blank) => at(['task', 'needs'], 'a blank entry')([...((doc.task as Record<string, Json>).needs as Json[]), blank])),
    fc.oneof(fc.constant(''), wrongType('string')).map(at(['task', 'approver'], 'not a name')),
    stringNot((s) => ['expire', 'revoke', 'consumed'].includes(s)).map(at(['end', 'mode'], 'not an end mode')),
    fc.oneof(fc.integer({ min: -10_000, max: 0 }), notDuration).map(at(['reuse', 'deadlineSeconds'], 'not a positive duration')),
    fc.double({ max: 0.999, noNaN: true, noDefaultInfinity: true, min: -1e6 }).map(at(['limits', 'maxPrivilegeWidth'], 'below 1')),
    unknownKey(SCENARIO_KEYS).chain((k) => wrongType().map(at([k], 'unknown key'))),
    fc.tuple(fc.constantFrom('task', 'reuse', 'end'), word).filter(([, k]) => !['windowSeconds', 'approver', 'needs', 'deadlineSeconds', 'mode', 'graceSeconds'].includes(k)).chain(([parent, k]) => wrongType().map(at([parent, k], 'unknown key'))),
    unknownKey(paramKeys).chain((k) => wrongType().map(at([...paramsPath, k], 'unknown parameter of the mechanism'))),
  ];
  if (endMode === 'expire') options.push(fc.integer({ min: -10_000, max: -1 }).map(at(['end', 'graceSeconds'], 'negative')));
  else options.push(fc.integer({ min: 0, max: 10 }).map(at(['end', 'graceSeconds'], 'a grace where nothing expires')));
  if (paramKeys.length > 0) {
    options.push(
      fc.constantFrom(...paramKeys).chain((k) => {
        const kind = kindOf(params[k]);
        // Durations also take strings such as "3s", and some are nullable (null asks for no TTL, a twin's broken setup).
        const wrong = kind === 'number' ? wrongType('number', 'string', 'null') : wrongType(kind, 'null');
        return wrong.map(at([...paramsPath, k], `not a ${kind}`));
      }),
    );
  }
  return fc.oneof(...options);
}

/** Built-in scenarios with one field broken (limits added first where the break is in limits). */
export const malformedScenario: fc.Arbitrary<Malformed> = fc.oneof(
  { weight: 8, arbitrary: mutated(fc.constantFrom(...BUILTIN_SCENARIOS).map((s) => ({ ...s, limits: s.limits ?? { maxPrivilegeWidth: 1 } })), scenarioMutations) },
  { weight: 1, arbitrary: notAMapping.map((doc) => ({ text: stringify(doc), field: '(top level)', what: `top level ${JSON.stringify(doc)}` })) },
  { weight: 1, arbitrary: fc.constantFrom(...BUILTIN_SCENARIOS).chain((s) => brokenYaml(stringify(s))) },
);

// ---------------------------------------------------------------- config files

const CONFIG_KEYS = ['target', 'out', 'suites', 'scenarios', 'concurrency', 'waivers', 'history', 'gate', 'policy'];

/** A valid config with any of its optional fields. */
const validConfig: fc.Arbitrary<Record<string, Json>> = fc.record(
  {
    target: fc.constantFrom('local', 'container', 'external'),
    out: fc.constant('reports/out'),
    suites: fc.subarray(ADAPTERS, { minLength: 1 }),
    scenarios: fc.constant(['token-ttl-expiry']),
    concurrency: fc.integer({ min: 1, max: 1000 }),
    waivers: fc.constant('waivers/local.yaml'),
    history: fc.constant('.jitc/history.sqlite'),
    gate: fc.constant({ failOn: ['severity>=high'] }),
  },
  { requiredKeys: [] },
);

const configMutations = (): fc.Arbitrary<Mutation> =>
  fc.oneof(
    stringNot((s) => ['local', 'container', 'external'].includes(s)).map(at(['target'], 'not a target mode')),
    wrongType('string').map(at(['target'], 'not a string')),
    fc.constantFrom('out', 'waivers', 'history').chain((k) => fc.oneof(fc.constant(''), wrongType('string')).map(at([k], 'not a path'))),
    fc.oneof(fc.constant<Json>([]), wrongType('array'), fc.constant<Json>(['vault', ''])).map(at(['suites'], 'not a list of suites')),
    fc.oneof(wrongType('array'), fc.constant<Json>([''])).map(at(['scenarios'], 'not a list of scenario ids')),
    fc.oneof(fc.integer({ min: -1000, max: 0 }), fc.integer({ min: 1001, max: 100_000 }), fc.double({ noNaN: true, noDefaultInfinity: true, min: 0.01, max: 999.99 }).filter((n) => !Number.isInteger(n)), wrongType('number')).map(at(['concurrency'], 'not a whole number from 1 to 1000')),
    fc.oneof(wrongType('object'), fc.constant<Json>({}), fc.constant<Json>({ failOn: [] }), fc.constant<Json>({ failOn: [''] }), wrongType('array').map((v): Json => ({ failOn: v })), word.filter((k) => k !== 'failOn').map((k): Json => ({ failOn: ['severity>=high'], [k]: 1 }))).map(at(['gate'], 'not a gate policy')),
    unknownKey(CONFIG_KEYS).chain((k) => wrongType().map(at([k], 'neither a known field nor an adapter section'))),
    fc.constantFrom('vault', 'aws', 'ldap').chain((k) => wrongType('object').map(at([k], 'an adapter section that is not a mapping'))),
  );

export const malformedConfig: fc.Arbitrary<Malformed> = fc.oneof(
  { weight: 8, arbitrary: mutated(validConfig, configMutations) },
  { weight: 1, arbitrary: notAMapping.map((doc) => ({ text: stringify(doc), field: '(top level)', what: `top level ${JSON.stringify(doc)}` })) },
  { weight: 1, arbitrary: validConfig.filter((c) => Object.keys(c).length > 0).chain((c) => brokenYaml(stringify(c))) },
);

// ---------------------------------------------------------------- waiver files

const WAIVER_KEYS = ['id', 'adapter', 'scenario', 'checks', 'target', 'justification', 'acceptedBy', 'expires'];

const validWaiver: fc.Arbitrary<Record<string, Json>> = fc.record(
  {
    id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/),
    adapter: fc.constantFrom(...ADAPTERS),
    scenario: fc.constantFrom('token-ttl-expiry', 'sts-assume-role-expiry', 'open-session-outlives-grant'),
    checks: fc.constantFrom(['reuse-denied'], ['reuse-denied', 'credential-invalidated']),
    target: fc.constantFrom('local', 'container', 'external', 'any'),
    justification: fc.constant('the emulator does not check this; tracked in SEC-42'),
    acceptedBy: fc.constant('security-engineering'),
    expires: fc.date({ min: new Date('2020-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
  },
  { requiredKeys: ['id', 'adapter', 'scenario', 'justification', 'acceptedBy', 'expires'] },
);

/** Waiver lists with unique ids. */
const validWaivers = fc.uniqueArray(validWaiver, { minLength: 1, maxLength: 4, selector: (w) => w.id });

/** Dates in the right shape that no calendar has. */
const impossibleDate = fc.oneof(
  fc.tuple(fc.integer({ min: 2000, max: 2099 }), fc.integer({ min: 13, max: 99 }), fc.integer({ min: 1, max: 28 })),
  fc.tuple(fc.integer({ min: 2000, max: 2099 }), fc.constantFrom(4, 6, 9, 11), fc.constant(31)),
  fc.tuple(fc.integer({ min: 2000, max: 2099 }), fc.constant(2), fc.constantFrom(30, 31)),
  fc.tuple(fc.integer({ min: 2000, max: 2099 }).filter((y) => y % 4 !== 0), fc.constant(2), fc.constant(29)),
  fc.tuple(fc.integer({ min: 2000, max: 2099 }), fc.integer({ min: 1, max: 12 }), fc.constant(0)),
).map(([y, m, d]) => `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`);

function waiverMutations(list: Json[]): fc.Arbitrary<Mutation> {
  return fc.integer({ min: 0, max: list.length - 1 }).chain((i) => {
    const w = (k: string): string[] => ['waivers', String(i), k];
    const options: fc.Arbitrary<Mutation>[] = [
      fc.constantFrom('id', 'adapter', 'scenario', 'justification', 'acceptedBy', 'expires').map((k) => at(w(k), 'required, removed')(undefined)),
      stringNot((s) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s)).map(at(w('id'), 'not an id')),
      fc.constantFrom('adapter', 'scenario').chain((k) => fc.oneof(fc.constant(''), wrongType('string')).map(at(w(k), 'not a name'))),
      fc.oneof(fc.constant<Json>([]), fc.constant<Json>(['']), wrongType('array')).map(at(w('checks'), 'not a list of checks')),
      stringNot((s) => ['local', 'container', 'external', 'any'].includes(s)).map(at(w('target'), 'not a target mode')),
      fc.string({ maxLength: 9 }).map(at(w('justification'), 'shorter than 10')),
      fc.string({ maxLength: 1 }).map(at(w('acceptedBy'), 'shorter than 2')),
      fc.oneof(impossibleDate, stringNot((s) => /^\d{4}-\d{2}-\d{2}$/.test(s)), wrongType('string')).map(at(w('expires'), 'not a date')),
      unknownKey(WAIVER_KEYS).chain((k) => wrongType().map(at(w(k), 'unknown key'))),
    ];
    if (list.length > 1 && i > 0) options.push(fc.constant(at(w('id'), 'the id of an earlier waiver')((list[0] as Record<string, Json>).id)));
    return fc.oneof(...options);
  });
}

export const malformedWaivers: fc.Arbitrary<Malformed> = fc.oneof(
  { weight: 8, arbitrary: mutated(validWaivers.map((waivers) => ({ waivers })), (doc) => waiverMutations(doc.waivers as Json[])) },
  { weight: 1, arbitrary: wrongType('array').map((v) => ({ text: stringify({ waivers: v }), field: 'waivers', what: `waivers: ${JSON.stringify(v)}` })) },
  { weight: 1, arbitrary: fc.tuple(validWaivers, unknownKey(['waivers'])).map(([waivers, k]) => ({ text: stringify({ waivers, [k]: 1 }), field: k, what: `top-level key ${k}` })) },
  { weight: 1, arbitrary: notAMapping.map((doc) => ({ text: stringify(doc), field: '(top level)', what: `top level ${JSON.stringify(doc)}` })) },
  { weight: 1, arbitrary: validWaivers.chain((waivers) => brokenYaml(stringify({ waivers }))) },
);

// ---------------------------------------------------------------- gate rules

export const GATE_KEYS = ['control', 'severity', 'check', 'adapter'];

/** A malformed --fail-on rule and a piece of text the error must quote. */
export interface MalformedRule {
  rule: string;
  names: string;
  what: string;
}

export function malformedGateRule(controls: string[], checks: string[]): fc.Arbitrary<MalformedRule> {
  const validFor: Record<string, fc.Arbitrary<string>> = {
    control: fc.subarray(controls, { minLength: 1, maxLength: 2 }).map((c) => `control=${c.join('|')}`),
    severity: fc.constantFrom(...SEVERITIES).map((s) => `severity>=${s}`),
    check: fc.subarray(checks, { minLength: 1, maxLength: 2 }).map((c) => `check=${c.join('|')}`),
    adapter: fc.subarray(ADAPTERS, { minLength: 1 }).map((a) => `adapter=${a.join('|')}`),
  };
  const junk = fc.stringMatching(/^[A-Za-z0-9._:-]{1,12}$/);
  /** One broken condition; `key` is the condition's key when it has a known one (no other condition may reuse it). */
  const bad: fc.Arbitrary<{ part: string; key?: string; names: string; what: string }> = fc.oneof(
    junk.map((t) => ({ part: t, names: t, what: 'no operator' })),
    fc.tuple(word.filter((k) => !GATE_KEYS.includes(k)), fc.constantFrom('=', '>='), junk).map(([k, op, v]) => ({ part: `${k}${op}${v}`, names: `${k}${op}${v}`, what: 'an unknown key' })),
    junk.filter((v) => !(SEVERITIES as readonly string[]).includes(v)).map((v) => ({ part: `severity>=${v}`, key: 'severity', names: `"${v}"`, what: 'an unknown severity' })),
    fc.constantFrom(...SEVERITIES).map((v) => ({ part: `severity=${v}`, key: 'severity', names: 'severity', what: 'severity with =' })),
    fc.tuple(fc.constantFrom('control', 'check', 'adapter'), junk).map(([k, v]) => ({ part: `${k}>=${v}`, key: k, names: k, what: `${k} with >=` })),
    junk.filter((v) => !controls.includes(v)).map((v) => ({ part: `control=${v}`, key: 'control', names: `"${v}"`, what: 'an unknown control' })),
    junk.filter((v) => !checks.includes(v)).map((v) => ({ part: `check=${v}`, key: 'check', names: `"${v}"`, what: 'an unknown check' })),
    junk.filter((v) => !ADAPTERS.includes(v)).map((v) => ({ part: `adapter=${v}`, key: 'adapter', names: `"${v}"`, what: 'an unknown adapter' })),
    fc.constantFrom('control', 'check', 'adapter').map((k) => ({ part: `${k}=|`, key: k, names: '""', what: 'empty alternatives' })),
  );
  /** The broken condition among valid ones on other keys, anywhere in the rule. */
  const amongValid = bad.chain((b) =>
    fc.shuffledSubarray(GATE_KEYS.filter((k) => k !== b.key), { maxLength: 3 }).chain((keys) =>
      fc.tuple(fc.tuple(...keys.map((k) => validFor[k]!)), fc.nat({ max: keys.length })).map(([valid, at]) => ({
        rule: [...valid.slice(0, at), b.part, ...valid.slice(at)].join(','),
        names: b.names,
        what: `${b.what}: ${b.part}`,
      })),
    ),
  );
  const twice = fc.constantFrom(...GATE_KEYS).chain((k) => fc.tuple(validFor[k]!, validFor[k]!).map(([a, b]) => ({ rule: `${a},${b}`, names: `${k} given twice`, what: 'a key given twice in one rule' })));
  const nothing = fc.array(fc.constantFrom(',', ' ', ' , '), { maxLength: 4 }).map((parts) => ({ rule: parts.join(''), names: 'empty rule', what: 'no condition' }));
  return fc.oneof({ weight: 6, arbitrary: amongValid }, { weight: 1, arbitrary: nothing }, { weight: 2, arbitrary: twice });
}

// ---------------------------------------------------------------- adapter sections (external targets)

/** A config file whose `<adapter>:` section is broken in one field, for that adapter's external mode. */
export interface MalformedSection extends Malformed {
  adapter: string;
}

/** Strings no URL parser takes (no scheme separator at all). */
const notAUrl = fc.stringMatching(/^[A-Za-z0-9 ._/-]{0,20}$/);

const SECTIONS: Record<string, { valid: fc.Arbitrary<Record<string, Json>>; breaks: (doc: Record<string, Json>) => fc.Arbitrary<Mutation>[] }> = {
  vault: {
    valid: fc.record(
      { address: fc.constant('http://127.0.0.1:9'), tokenEnv: fc.constant('JITC_VAULT_TOKEN'), kvMount: fc.constant('secret'), approleMount: fc.constant('approle') },
      { requiredKeys: [] },
    ),
    breaks: () => [
      notAUrl.map(at(['vault', 'address'], 'not a URL')),
      fc.constantFrom('address', 'tokenEnv', 'kvMount', 'approleMount').chain((k) => wrongType('string').map(at(['vault', k], 'not a string'))),
    ],
  },
  aws: {
    valid: fc.record({ region: fc.constantFrom('eu-west-1', 'us-east-1'), endpoint: fc.constant('http://127.0.0.1:9') }, { requiredKeys: [] }),
    breaks: () => [
      stringNot((s) => /^[a-z]{2}(-[a-z]+)+-\d$/.test(s)).map(at(['aws', 'region'], 'not a region')),
      notAUrl.map(at(['aws', 'endpoint'], 'not a URL')),
      fc.constantFrom('region', 'endpoint').chain((k) => wrongType('string').map(at(['aws', k], 'not a string'))),
    ],
  },
  ldap: {
    valid: fc.record(
      {
        url: fc.constant('ldap://127.0.0.1:9'),
        bindDn: fc.constant('cn=admin,dc=jitc,dc=test'),
        passwordEnv: fc.constant('JITC_LDAP_PASSWORD'),
        baseDn: fc.constant('dc=jitc,dc=test'),
        grantGroupDn: fc.constant('cn=readers,ou=groups,dc=jitc,dc=test'),
        resourceDn: fc.constant('cn=protected,ou=resources,dc=jitc,dc=test'),
        timeoutMs: fc.integer({ min: 1, max: 10_000 }),
        startTls: fc.boolean(),
      },
      { requiredKeys: ['grantGroupDn', 'resourceDn'] },
    ),
    breaks: () => [
      stringNot((s) => /^ldaps?:\/\/[^\s]+$/.test(s)).map(at(['ldap', 'url'], 'not an ldap URL')),
      stringNot((s) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(s)).map(at(['ldap', 'passwordEnv'], 'not a variable name')),
      fc.oneof(fc.integer({ min: -1000, max: 0 }), fc.double({ min: 0.01, max: 99.99, noNaN: true }).filter((n) => !Number.isInteger(n)), wrongType('number')).map(at(['ldap', 'timeoutMs'], 'not a positive whole number')),
      stringNot((s) => ['EXTERNAL', 'PLAIN', 'DIGEST-MD5', 'SCRAM-SHA-1'].includes(s)).map(at(['ldap', 'saslMechanism'], 'not a SASL mechanism')),
      fc.constantFrom('grantGroupDn', 'resourceDn').map((k) => at(['ldap', k], 'required, removed')(undefined)),
      fc.constantFrom('bindDn', 'baseDn', 'grantGroupDn', 'resourceDn').chain((k) => fc.string({ maxLength: 2 }).map(at(['ldap', k], 'shorter than a DN'))),
      wrongType('boolean').map(at(['ldap', 'startTls'], 'not a boolean')),
      wrongType('object').map(at(['ldap', 'tls'], 'not a mapping')),
    ],
  },
};

export const malformedSection: fc.Arbitrary<MalformedSection> = fc.constantFrom(...Object.keys(SECTIONS)).chain((adapter) => {
  const { valid, breaks } = SECTIONS[adapter]!;
  const known = ['address', 'tokenEnv', 'kvMount', 'approleMount', 'region', 'endpoint', 'url', 'bindDn', 'passwordEnv', 'saslMechanism', 'startTls', 'tls', 'timeoutMs', 'baseDn', 'grantGroupDn', 'resourceDn', 'resourceAttribute', 'accountsDn', 'groupsDn', 'dnGrantedDn', 'accessLogDn', 'emptyMember', 'groupObjectClass', 'accountObjectClasses', 'passwordAttribute'];
  const unknown = unknownKey(known).chain((k) => wrongType().map(at([adapter, k], 'unknown key')));
  return mutated(
    valid.map((section) => ({ target: 'external', [adapter]: section })),
    (doc) => fc.oneof(unknown, ...breaks(doc)),
  ).map((bad) => ({ ...bad, adapter }));
});

/** A config holding a secret value under a secret-looking key somewhere, and the value, which no refusal may repeat. */
export interface InlineSecret extends Malformed {
  value: string;
}

/** The nouns a secret goes by, as key names spell them in the wild. */
const SECRET_NOUNS = [['token'], ['password'], ['passwd'], ['secret'], ['secret', 'id'], ['secret', 'access', 'key'], ['private', 'key'], ['api', 'key'], ['client', 'secret'], ['session', 'token'], ['credentials'], ['passphrase']];

/** camelCase, snake_case, kebab-case, UPPER_CASE or Capitalised: every way the same key is written. */
function spell(words: string[], style: number): string {
  switch (style) {
    case 0:
      return words.map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1))).join('');
    case 1:
      return words.join('_');
    case 2:
      return words.join('-');
    case 3:
      return words.join('_').toUpperCase();
    default:
      return words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  }
}

export const inlineSecret: fc.Arbitrary<InlineSecret> = fc
  .record({
    section: fc.constantFrom('vault', 'aws', 'ldap'),
    prefix: fc.array(fc.constantFrom('root', 'bind', 'admin', 'broker', 'my'), { maxLength: 2 }),
    noun: fc.constantFrom(...SECRET_NOUNS),
    style: fc.integer({ min: 0, max: 4 }),
    // The path from the section to the key: object keys, and array positions.
    path: fc.array(fc.oneof(word.filter((w) => !/(token|password|passwd|pwd|secret|key|credential|phrase|env)s?$/i.test(w)), fc.integer({ min: 0, max: 2 })), { maxLength: 3 }),
    value: fc.stringMatching(/^[A-Za-z0-9]{12,24}$/).map((v) => `inline-${v}`),
  })
  .map(({ section, prefix, noun, style, path, value }) => {
    const key = spell([...prefix, ...noun], style);
    let node: Json = { [key]: value };
    const names: string[] = [key];
    for (const step of [...path].reverse()) {
      if (typeof step === 'number') {
        node = [...Array.from({ length: step }, () => 'filler'), node];
        names.unshift(String(step));
      } else {
        node = { [step]: node };
        names.unshift(step);
      }
    }
    const doc = { target: 'local', [section]: node };
    return { text: stringify(doc), field: [section, ...names].join('.'), what: `${key} under ${[section, ...names.slice(0, -1)].join('.')}`, value };
  });
