import { Yaml } from 'cdk8s';
import { parseAllDocuments } from 'yaml';
import { ENVIRONMENT_NAMES } from '../../lib';
import { toYaml } from '../../lib/yaml';
import { buildApp } from '../../stacks/app';

/**
 * Reads a stream back with the `yaml` package, as YAML 1.2 (core schema) or with the YAML 1.1 schema (where `on`,
 * `y`, `1:20`, `0123` and `2001-12-14` are not strings), failing on any error or warning.
 */
function readBack(text: string, version: '1.1' | '1.2'): unknown[] {
  return parseAllDocuments(text, { version }).map((doc) => {
    expect(doc.errors).toEqual([]);
    expect(doc.warnings).toEqual([]);
    return doc.toJS();
  });
}

/** Writes the documents and expects both readers to give them back exactly (toEqual tells -0 from 0); returns the text. */
function expectRoundTrip(objects: unknown[]): string {
  const text = toYaml(objects);
  expect(readBack(text, '1.2')).toEqual(objects);
  expect(readBack(text, '1.1')).toEqual(objects);
  return text;
}

/** The places a string can be: a document, a key, a value, a sequence item, nested (where block literals are indented). */
function everywhere(s: string): unknown[] {
  return [s, { [s]: s }, [s, [s], { k: s }], { a: { b: [{ [s]: s, c: [s, [s]] }] } }];
}

const SPECIAL_WORDS = ['true', 'false', 'yes', 'no', 'on', 'off', 'y', 'n', 'null', '~', 'True', 'FALSE', 'Yes', 'NO', 'On', 'oFF', 'Y', 'N',
  'Null', 'NULL', '.inf', '.Inf', '-.inf', '+.INF', '.nan', '.NaN', 'NaN', 'Infinity', '<<', '='];
const NUMBER_LIKE = ['0', '-1', '+1', '0123', '0777', '1e3', '1E3', '1e+3', '12e', '0x1F', '0o17', '0b101', '1_000', '1:20', '-1:20', '190:20:30',
  '1:20.5', '.5', '5.', '-.5', '1.0', '0.1.0', '127.0.0.1', '2001-12-14', '2001-12-14t21:59:43.10-05:00', '2001-12-14 21:59:43.10 -5',
  '500m', '1Gi', '1Ei', '1e3m', '30s', '1h30m', '0b', '0x'];
const INDICATORS = ['-', '?', ':', '? x', '- x', ': x', '-x', '--flag=x', '#x', 'x #y', 'x#y', 'x: y', 'x:', 'x:y', 'a,b', 'a ,b', '[x]', '{x}',
  '{{inputs.parameters.x}}', '--x={{y}}', '!x', '&x', '*x', 'a *b', '|x', '>x', "'x", '"x', 'a"b', "a'b", '%YAML', '@x', '`x', '---', '...',
  '--- x', '...x', './run.sh', '../x', '.config', '.', '..', '/tmp', '_x', 'x?a=1&b=2', 'data/*.csv', 'Prune=false,Delete=false',
  'http://mlflow.cd4ml.svc.cluster.local:5000/health', 'registry.example/steps:1.0.0', 'app.kubernetes.io/name', 'a\\b'];
const SPACES_AND_UNICODE = ['', ' ', '  ', ' a', 'a ', 'a b', 'a  b', 'é', 'ünïcödé', '日本語', '😀 emoji', '\u00a0', 'a\u2028b', 'a\u2029b',
  'a\u0085b', 'a\ufeffb', 'a\x7fb', 'a\x00b', '\x1b[0m', '\ud800', 'a\tb', '\t'];
const MULTI_LINE = ['a\nb', 'a\nb\n', 'a\nb\n\n', 'a\nb\n\n\n', '\n', '\n\n', '\nx', ' x\ny', '  x\n y\n', 'a\n  \nb', 'a\n \n', 'a \nb',
  'a\nb ', 'x\n---\ny\n', 'x\n...\ny', '---\n...\n', 'a\n#b\n', 'a\n\n\nb', 'a\r\nb\r\n', 'a\rb', 'x\n\ty', 'a\n- b\n', '- a\nb',
  '%\n%x', 'a\n\ud800', 'é\n😀\n', 'def f():\n    return 1\n'];

describe('toYaml reads back as the same values, in YAML 1.2 and YAML 1.1', () => {
  test.each(SPECIAL_WORDS)('the special word %j', (s) => {
    expectRoundTrip(everywhere(s));
  });
  test.each(NUMBER_LIKE)('the number-like string %j', (s) => {
    expectRoundTrip(everywhere(s));
  });
  test.each(INDICATORS)('the string with indicators %j', (s) => {
    expectRoundTrip(everywhere(s));
  });
  test.each(SPACES_AND_UNICODE)('the string %j', (s) => {
    expectRoundTrip(everywhere(s));
  });
  test.each(MULTI_LINE)('the multi-line string %j', (s) => {
    expectRoundTrip(everywhere(s));
  });

  test('numbers, booleans and null', () => {
    const values = [0, -0, 1, -1, 1.5, -2.25, 0.1, 1e21, 1.5e300, 1e-7, -1e-7, 5e-324, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, true, false, null];
    expectRoundTrip([values, { values }, ...values]);
  });

  test('empty containers, nested sequences, deep nesting', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100; i++) deep = i % 2 ? { [`k${i}`]: deep, s: 'x\ny' } : [deep, i];
    expectRoundTrip([{}, [], { a: {}, b: [], c: null, d: [[]], e: [{}], f: [[1, [2, {}]], []], g: [[[['x']]]] }, deep]);
  });

  test('keys that need quotes, and a key longer than an implicit key may be', () => {
    const long = 'k'.repeat(1100);
    const text = expectRoundTrip([
      { '': 1, 'a: b': 2, '- x': 3, true: 4, 1: 5, '#': 6, 'a\nb': 7, '?': 8, [long]: { a: [1] }, [`${long}2`]: 'x\ny' },
      [{ [long]: [1, { [long]: ' x\ny' }], z: 1 }, [`${long}: x`]],
    ]);
    expect(text).toContain(`\n? ${long}\n:\n  a:\n`);
    expect(text).toContain(`\n- ? ${long}\n  :\n    - 1\n    - ? ${long}\n      : |2-\n`);
  });
});

describe('toYaml writes block style, kubectl- and cdk8s-like', () => {
  test('a manifest', () => {
    const text = expectRoundTrip([{
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'x', labels: { 'app.kubernetes.io/name': 'x' }, skipped: undefined },
      data: { 'run.sh': 'set -e\necho hi\n', port: '5000' },
      list: [{ name: 'a', args: ['-m', 'job'], resources: { cpu: '500m' } }, [1, 2], 'z'],
    }]);
    expect(text).toBe([
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata:',
      '  name: x',
      '  labels:',
      '    app.kubernetes.io/name: x',
      'data:',
      '  run.sh: |',
      '    set -e',
      '    echo hi',
      '  port: "5000"',
      'list:',
      '  - name: a',
      '    args:',
      '      - -m',
      '      - job',
      '    resources:',
      '      cpu: 500m',
      '  - - 1',
      '    - 2',
      '  - z',
      '',
    ].join('\n'));
  });

  test('a stream: documents separated by ---, ending in a newline; no documents is the empty string', () => {
    expect(toYaml([])).toBe('');
    expect(toYaml([{ a: 1 }, { b: [] }, {}, null, 'x'])).toBe('a: 1\n---\nb: []\n---\n{}\n---\nnull\n---\nx\n');
  });

  test.each([
    ['plain', 'plain'], ['registry.example/steps:1.0.0', 'registry.example/steps:1.0.0'], ['500m', '500m'], ['--flag=x', '--flag=x'],
    ['a b', 'a b'], ['on', '"on"'], ['Null', '"Null"'], ['0123', '"0123"'], ['1:20', '"1:20"'], ['1e3', '"1e3"'], ['x: y', '"x: y"'],
    ['', '""'], [' a', '" a"'], ['a\tb', '"a\\tb"'], ['a\u2028b', '"a\\u2028b"'], ['a\r\nb', '"a\\r\\nb"'], ['a \nb', '"a \\nb"'],
    ['\n', '"\\n"'], ['a\nb', '|-\n    a\n    b'], ['a\nb\n', '|\n    a\n    b'], ['a\n\n', '|+\n    a\n'], [' a\nb', '|2-\n     a\n    b'],
    [1e21, '1.0e+21'], [-0, '-0.0'], [1.5, '1.5'],
  ])('%j is written %j', (value, written) => {
    expect(toYaml([{ k: { k: value } }])).toBe(`k:\n  k: ${written}\n`);
  });

  test('keys whose value is undefined are left out, as JSON.stringify leaves them', () => {
    expect(toYaml([{ a: undefined, b: { c: undefined }, d: [{ e: undefined, f: 1 }] }])).toBe('b: {}\nd:\n  - f: 1\n');
  });
});

describe('toYaml refuses what YAML cannot hold exactly, naming where', () => {
  const deployment = (replicas: unknown): unknown => ({ kind: 'Deployment', metadata: { name: 'mlflow' }, spec: { replicas } });
  const cycle: Record<string, unknown> = { name: 'c' };
  cycle.self = [cycle];
  test.each<[string, unknown[], string]>([
    ['NaN', [deployment(NaN)], 'document 0 (Deployment mlflow), spec.replicas: NaN is not a YAML value (only finite numbers are)'],
    ['an infinity', [{}, deployment(-Infinity)], 'document 1 (Deployment mlflow), spec.replicas: -Infinity is not a YAML value'],
    ['a bigint', [deployment(1n)], 'spec.replicas: a bigint is not a YAML value'],
    ['a function', [{ a: { 'app.kubernetes.io/name': () => 1 } }], 'document 0, a["app.kubernetes.io/name"]: a function is not a YAML value'],
    ['a symbol', [{ a: [Symbol('s')] }], 'document 0, a[0]: a symbol is not a YAML value'],
    ['undefined in a sequence', [{ args: ['a', undefined] }], 'document 0, args[1]: undefined is not a YAML value'],
    ['a hole in a sequence', [{ args: [1, , 3] }], 'document 0, args[1]: undefined is not a YAML value'],
    ['an undefined document', [undefined], 'document 0: undefined is not a YAML value'],
    ['a Date', [{ at: new Date(0) }], 'document 0, at: a Date is not a YAML value'],
    ['a Map', [{ m: new Map() }], 'document 0, m: a Map is not a YAML value'],
    ['a cycle', [cycle], 'document 0, self[0]: a cycle is not a YAML value'],
  ])('%s', (_, objects, message) => {
    expect(() => toYaml(objects)).toThrow(message);
  });
});

describe('every environment', () => {
  test.each(ENVIRONMENT_NAMES)('%s: its platform and pipelines read back as themselves and as cdk8s writes them', (env) => {
    const { platform, pipelines } = buildApp(env, '/tmp/cd4ml-unused');
    const objects = [...platform.toJson(), ...pipelines.toJson()];
    const text = toYaml(objects);
    const ours = readBack(text, '1.2');
    // strict: the same keys (none undefined), plain objects and arrays, exactly what JSON would carry
    expect(ours).toStrictEqual(JSON.parse(JSON.stringify(objects)));
    expect(readBack(text, '1.1')).toStrictEqual(ours);
    expect(ours).toStrictEqual(parseAllDocuments(Yaml.stringify(...objects)).map((d) => d.toJS()));
  });
});
