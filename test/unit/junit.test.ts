/**
 * junit.xml for CI: well-formed whatever the targets answered, one testcase per scenario, fail as
 * <failure>, inconclusive as <error>, waived as <skipped> carrying its waiver.
 */
import { describe, expect, test } from 'vitest';
import { renderJunit } from '../../reports/writers/junit.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { checkResult, fakeResult } from '../support/fake-adapter.ts';

interface Element {
  name: string;
  attrs: Record<string, string>;
  children: Element[];
  text: string;
}

const ENTITY = /&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/y;
// eslint-disable-next-line no-control-regex -- the characters XML 1.0 forbids
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

/** Raw `&` only as an entity, no raw `<`; returns the decoded text. */
function decode(raw: string, where: string): string {
  expect(raw, `${where} has no raw <`).not.toContain('<');
  for (let i = raw.indexOf('&'); i !== -1; i = raw.indexOf('&', i + 1)) {
    ENTITY.lastIndex = i;
    expect(ENTITY.test(raw), `${where}: bare & at ${i} in ${JSON.stringify(raw)}`).toBe(true);
  }
  return raw
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-fA-F]+);/g, (_m, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#([0-9]+);/g, (_m, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&amp;/g, '&');
}

/** A strict little XML reader: fails the test on anything not well-formed, else returns the root. */
function parseXml(xml: string): Element {
  expect(FORBIDDEN.test(xml), 'no character XML 1.0 forbids').toBe(false);
  const body = xml.replace(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n/, '');
  expect(body, 'starts with the XML declaration').not.toBe(xml);
  const root: Element = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: Element[] = [root];
  for (const token of body.match(/<[^>]*>|[^<]+/g) ?? []) {
    const top = stack.at(-1)!;
    if (!token.startsWith('<')) {
      top.text += decode(token, `text of <${top.name}>`);
      continue;
    }
    const tag = /^<(\/)?([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"]*")*)\s*(\/)?>$/.exec(token);
    expect(tag, `well-formed tag ${token}`).not.toBeNull();
    const [, closing, name, attrText, selfClosing] = tag!;
    if (closing) {
      expect(attrText, `no attributes on ${token}`).toBe('');
      expect(stack.pop()?.name, `${token} closes the open element`).toBe(name);
      continue;
    }
    const element: Element = { name: name!, attrs: {}, children: [], text: '' };
    for (const [, key, value] of attrText!.matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)) {
      expect(element.attrs, `attribute ${key} given once on <${name}>`).not.toHaveProperty(key!);
      element.attrs[key!] = decode(value!, `${name}@${key}`);
    }
    top.children.push(element);
    if (!selfClosing) stack.push(element);
  }
  expect(stack.map((e) => e.name), 'every element closed').toEqual(['#document']);
  expect(root.children, 'one root element').toHaveLength(1);
  expect(root.text.trim(), 'nothing outside the root').toBe('');
  return root.children[0]!;
}

const all = (e: Element, name: string): Element[] => e.children.filter((c) => c.name === name);
const one = (e: Element, name: string): Element => {
  const found = all(e, name);
  expect(found, `one <${name}> in <${e.name}>`).toHaveLength(1);
  return found[0]!;
};

function testcase(xml: string, id: string): Element {
  const cases = all(parseXml(xml), 'testsuite').flatMap((s) => all(s, 'testcase'));
  const found = cases.find((c) => c.attrs.name === id);
  expect(found, `testcase ${id}`).toBeDefined();
  return found!;
}

const passed = fakeResult({ id: 'token-ttl-expiry', checks: [checkResult('reuse-denied', 'pass'), checkResult('no-residue', 'pass')] });
const failed = fakeResult({
  id: 'child-token-cascade',
  checks: [checkResult('reuse-denied', 'pass'), checkResult('derived-credentials-denied', 'fail', 'child token still usable 3012 ms after the end')],
});
const undecided = fakeResult({
  id: 'renewal-capped',
  checks: [checkResult('lifecycle-completed', 'inconclusive', 'reuse: ECONNREFUSED 127.0.0.1:8200')],
});
const waived: ScenarioResult = {
  ...fakeResult({ id: 'approle-secret-id-single-use', checks: [checkResult('no-residue', 'fail', 'manual cleanup needed: secret-id:abc')] }),
  verdict: 'waived',
  waiver: { id: 'W-7', justification: 'dev server lists consumed secret_ids until tidy runs', acceptedBy: 'security-lead', expires: '2026-12-31' },
};
const ldap = fakeResult({ adapter: 'ldap', id: 'dynamic-entry-ttl', checks: [checkResult('reuse-denied', 'pass')] });

describe('junit.xml', () => {
  const xml = renderJunit([passed, failed, undecided, waived, ldap], 'r1');

  test('is well-formed, with the run totals on the root', () => {
    const root = parseXml(xml);
    expect(root.name).toBe('testsuites');
    expect(root.attrs).toEqual({ name: 'jitc run r1', tests: '5', failures: '1', errors: '1', skipped: '1' });
  });

  test('has one testsuite per adapter and one testcase per scenario', () => {
    const suites = all(parseXml(xml), 'testsuite');
    expect(suites.map((s) => s.attrs.name).sort()).toEqual(['jitc ldap', 'jitc vault']);
    const vault = suites.find((s) => s.attrs.name === 'jitc vault')!;
    expect(vault.attrs).toMatchObject({ tests: '4', failures: '1', errors: '1', skipped: '1', time: '17.000' });
    expect(all(vault, 'testcase').map((c) => c.attrs.name)).toEqual([
      'approle-secret-id-single-use',
      'child-token-cascade',
      'renewal-capped',
      'token-ttl-expiry',
    ]);
    expect(all(vault, 'testcase').every((c) => c.attrs.classname === 'jitc.vault')).toBe(true);
  });

  test('a testcase takes the scenario duration', () => {
    expect(testcase(xml, 'token-ttl-expiry').attrs.time).toBe('4.250');
  });

  test('a passing scenario has no failure, error or skipped element', () => {
    const c = testcase(xml, 'token-ttl-expiry');
    expect(c.children.map((e) => e.name).sort()).toEqual(['properties', 'system-out']);
  });

  test('fail is a <failure> naming the failed check and its detail', () => {
    const c = testcase(xml, 'child-token-cascade');
    const failure = one(c, 'failure');
    expect(failure.attrs).toEqual({ type: 'non-conformant', message: 'derived-credentials-denied: child token still usable 3012 ms after the end' });
    expect(all(c, 'error')).toHaveLength(0);
    expect(all(c, 'skipped')).toHaveLength(0);
  });

  test('inconclusive is an <error>: the run could not decide', () => {
    const c = testcase(xml, 'renewal-capped');
    expect(one(c, 'error').attrs).toEqual({ type: 'inconclusive', message: 'lifecycle-completed: reuse: ECONNREFUSED 127.0.0.1:8200' });
    expect(all(c, 'failure')).toHaveLength(0);
  });

  test('waived is <skipped> carrying the waiver and the check it waives', () => {
    const c = testcase(xml, 'approle-secret-id-single-use');
    expect(one(c, 'skipped').attrs.message).toBe(
      'waived by W-7 (accepted by security-lead, until 2026-12-31): dev server lists consumed secret_ids until tidy runs; failed: no-residue: manual cleanup needed: secret-id:abc',
    );
    expect(all(c, 'failure')).toHaveLength(0);
  });

  test('properties carry the verdict, the controls and the metrics', () => {
    const props = Object.fromEntries(all(one(testcase(xml, 'child-token-cascade'), 'properties'), 'property').map((p) => [p.attrs.name, p.attrs.value]));
    expect(props).toMatchObject({
      verdict: 'fail',
      severity: 'critical',
      target: 'local http://127.0.0.1:8200',
      ttlSeconds: '3',
      revocationLatencyMs: '120',
      privilegeWidth: '1',
      residue: '0',
    });
    expect(props.controls?.split(' ')).toContain('NIST-800-53-AC-2.6');
  });

  test('system-out lists every check with its verdict', () => {
    const out = one(testcase(xml, 'child-token-cascade'), 'system-out').text;
    expect(out.split('\n')).toEqual([
      `${'pass'.padEnd(12)} reuse-denied: reuse-denied pass`,
      `${'fail'.padEnd(12)} derived-credentials-denied: child token still usable 3012 ms after the end`,
    ]);
  });

  test('an empty run is still a valid report', () => {
    const root = parseXml(renderJunit([], 'r0'));
    expect(root.attrs).toMatchObject({ tests: '0', failures: '0' });
    expect(root.children).toEqual([]);
  });
});

describe('escaping what targets answer', () => {
  const nasty = 'HTTP 400 <error code="x">&amp; a & b > c "quoted"</error>';
  const result = fakeResult({
    adapter: 'vault',
    id: 'odd-answers',
    target: { mode: 'external', address: 'https://vault.example/?a=1&b="2"', facts: {} },
    checks: [checkResult('reuse-denied', 'fail', nasty), checkResult('no-residue', 'fail', 'bell\u0007 escape\u001b[31m nul\u0000 tab\tend')],
  });
  const xml = renderJunit([result], 'r<&>"1');

  test('& < > and " in details, names and addresses are escaped and come back unchanged', () => {
    const root = parseXml(xml);
    expect(root.attrs.name).toBe('jitc run r<&>"1');
    const c = testcase(xml, 'odd-answers');
    expect(one(c, 'failure').attrs.message).toContain(nasty);
    expect(one(c, 'system-out').text).toContain(nasty);
    const target = all(one(c, 'properties'), 'property').find((p) => p.attrs.name === 'target');
    expect(target?.attrs.value).toBe('external https://vault.example/?a=1&b="2"');
    expect(xml).toContain('&amp;amp;');
  });

  test('control characters XML forbids are dropped, tabs are kept', () => {
    expect(xml).not.toMatch(/[\u0000\u0007\u001b]/);
    const out = one(testcase(xml, 'odd-answers'), 'system-out').text;
    expect(out).toContain('bell escape[31m nul tab\tend');
  });
});

describe('a check its target cannot evidence', () => {
  const gap = fakeResult({ id: 'token-ttl-expiry', checks: [checkResult('no-residue', 'pass')] });
  gap.evidence.push({ at: '2026-01-01T00:00:00.000Z', phase: 'setup', event: 'audit-trail not evidenced on this target: no audit log is named', data: { notEvidenced: 'audit-trail' } });
  const xml = renderJunit([gap], 'r-gap');

  test('is a property and a system-out line, and changes no count CI reads', () => {
    const root = parseXml(xml);
    expect(root.attrs).toMatchObject({ tests: '1', failures: '0', errors: '0', skipped: '0' });
    const c = testcase(xml, 'token-ttl-expiry');
    expect(c.children.map((e) => e.name)).not.toContain('failure');
    expect(c.children.map((e) => e.name)).not.toContain('skipped');
    const property = all(one(c, 'properties'), 'property').find((p) => p.attrs.name === 'notEvidenced');
    expect(property?.attrs.value).toMatch(/^audit-trail \(.+\): audit-trail not evidenced on this target: no audit log is named$/);
    expect(one(c, 'system-out').text).toContain('not evidenced audit-trail: audit-trail not evidenced on this target: no audit log is named');
  });
});

describe('the well-formedness check used above', () => {
  const declared = (body: string): string => `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
  test.each([
    ['a bare &', '<a b="x & y"/>'],
    ['a raw < in text', '<a>1 < 2</a>'],
    ['an unclosed element', '<a><b></a>'],
    ['a control character', '<a>\u0007</a>'],
    ['two roots', '<a/><b/>'],
  ])('refuses %s', (_what, body) => {
    expect(() => parseXml(declared(body))).toThrow();
  });
});
