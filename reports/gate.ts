/**
 * The gate policy: which failures fail the pipeline. Without rules, any failed check does. A rule
 * is a set of conditions that must all hold for a failed check ("control=OWASP-NHI-03,severity>=high");
 * several rules are alternatives. Inconclusive results always gate (exit 2): doubt never passes.
 */
import { adapterNames } from '../adapters/registry.ts';
import { adaptersOf, type ScenarioResult } from '../scenarios/result.ts';
import { exitCodeFor } from '../scenarios/verdict.ts';
import { SEVERITIES, loadCatalogue, type Severity } from '../scenarios/catalogue.ts';
import { InputError } from '../scenarios/input.ts';

export interface GateRule {
  controls?: string[];
  minSeverity?: Severity;
  checks?: string[];
  adapters?: string[];
}

export interface GateOutcome {
  exitCode: 0 | 1 | 2;
  /** Failed checks that the policy lets through (reported, not gating). */
  tolerated: string[];
  /** Failed checks that gate. */
  gating: string[];
}

const RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/** Parse "control=A|B,severity>=high,check=x,adapter=NAME" into a rule, naming `where` on error. */
export function parseGateRule(text: string, where = '--fail-on'): GateRule {
  const rule: GateRule = {};
  const catalogue = loadCatalogue();
  const seen = new Set<string>();
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(control|severity|check|adapter)\s*(>=|=)\s*(.+)$/.exec(part);
    if (!m) throw new InputError(`${where}: "${part}" is not a condition (use control=ID, severity>=LEVEL, check=ID or adapter=NAME)`);
    const [, key, op, value] = m as unknown as [string, string, string, string];
    // A second condition on the same key would silently replace the first: alternatives go in one, with |.
    if (seen.has(key)) {
      const instead = key === 'severity' ? 'a rule takes one severity; another --fail-on rule is an alternative' : `alternatives go in one condition: ${key}=A|B`;
      throw new InputError(`${where}: ${key} given twice in one rule (${instead})`);
    }
    seen.add(key);
    const values = value.split('|').map((v) => v.trim());
    if (key === 'severity') {
      if (!SEVERITIES.includes(value as Severity)) throw new InputError(`${where}: severity "${value}" is not one of ${SEVERITIES.join(', ')}`);
      if (op !== '>=') throw new InputError(`${where}: severity takes >= (e.g. severity>=high)`);
      rule.minSeverity = value as Severity;
    } else if (op !== '=') {
      throw new InputError(`${where}: ${key} takes = (e.g. ${key}=…)`);
    } else if (key === 'control') {
      for (const v of values) if (!catalogue.controls.has(v)) throw new InputError(`${where}: unknown control "${v}" (see scenarios/controls.yaml)`);
      rule.controls = values;
    } else if (key === 'check') {
      for (const v of values) if (!catalogue.checks.has(v)) throw new InputError(`${where}: unknown check "${v}" (see scenarios/controls.yaml)`);
      rule.checks = values;
    } else {
      // An adapter name that matches nothing would let every failure through the gate unnoticed.
      const known = adapterNames();
      for (const v of values) if (!known.includes(v)) throw new InputError(`${where}: unknown adapter "${v}" (known: ${known.join(', ')})`);
      rule.adapters = values;
    }
  }
  if (Object.keys(rule).length === 0) throw new InputError(`${where}: empty rule`);
  return rule;
}

function matches(rule: GateRule, result: ScenarioResult, check: ScenarioResult['checks'][number]): boolean {
  // `adapter=` matches either half: the point of use's adapter or the grant source's.
  if (rule.adapters && !adaptersOf(result).some((a) => rule.adapters!.includes(a))) return false;
  if (rule.checks && !rule.checks.includes(check.name)) return false;
  if (rule.controls && !check.controls.some((c) => rule.controls!.includes(c))) return false;
  if (rule.minSeverity && RANK[check.severity] < RANK[rule.minSeverity]) return false;
  return true;
}

export function describeRule(rule: GateRule): string {
  const parts: string[] = [];
  if (rule.controls) parts.push(`control=${rule.controls.join('|')}`);
  if (rule.minSeverity) parts.push(`severity>=${rule.minSeverity}`);
  if (rule.checks) parts.push(`check=${rule.checks.join('|')}`);
  if (rule.adapters) parts.push(`adapter=${rule.adapters.join('|')}`);
  return parts.join(',');
}

export function applyGate(results: ScenarioResult[], rules: GateRule[]): GateOutcome {
  const gating: string[] = [];
  const tolerated: string[] = [];
  for (const r of results) {
    if (r.verdict !== 'fail') continue;
    for (const check of r.checks.filter((c) => c.verdict === 'fail')) {
      const name = `${r.adapter}/${r.id}:${check.name}`;
      if (rules.length === 0 || rules.some((rule) => matches(rule, r, check))) gating.push(name);
      else tolerated.push(name);
    }
  }
  const base = exitCodeFor(results.map((r) => r.verdict));
  const exitCode = base === 1 && gating.length === 0 ? (results.some((r) => r.verdict === 'inconclusive') ? 2 : 0) : base;
  return { exitCode, gating, tolerated };
}
