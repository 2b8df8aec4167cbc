import {
  checkBucketName, checkExtendedResourceName, checkHost, checkHostPattern, checkImage, checkLabelKey, checkLabelValue, checkNamespace, checkPostgresIdentifier,
  checkRegion, NameSite, Problem,
} from '../../../lib';
import { quoted } from './support';

// Every checker's fix, fed back into the same checker, passes: a suggestion is never itself refused.

const site: NameSite = { path: 'test/c', field: 'f' };
const JS_JUNK: unknown[] = [undefined, null, 42, true, { a: 1 }, ['x'], ''];

const checkers: Record<string, { check: (v: unknown) => Problem | undefined; bad: unknown[] }> = {
  checkNamespace: {
    check: (v) => checkNamespace(v, site),
    bad: ['default', 'kube-system', 'kube-public', 'kube-node-lease', 'kube-x', 'KUBE-SYSTEM', 'Default', 'ML_Ops', '-x-', 'a'.repeat(80), 'ns.with.dots', ' spaced '],
  },
  checkHost: {
    check: (v) => checkHost(v, site),
    bad: ['db.example.com:5432', 'postgres://db.example.com', 'https://db.example.com:8443/x', ' db ', 'db_1', 'user:pw@db', 'password=x', '-db', 'a..b', '::1', '[::1]', '123.456'],
  },
  checkHostPattern: { check: (v) => checkHostPattern(v as string, site), bad: ['*', '*:*', '**', '*.*', 'a b', 'user:pw@host'] },
  checkRegion: { check: (v) => checkRegion(v, site), bad: ['US-EAST-1', 'us_east_1', 'eu central 1', 'x', '-a', 'a-'] },
  checkAwsRegion: { check: (v) => checkRegion(v, site, { aws: true, expected: 'eu-west-1' }), bad: ['us-east-1', 'auto', 'EU-WEST-1'] },
  checkBucketName: { check: (v) => checkBucketName(v as string, site), bad: ['ab', 'A', 'xn--', 'xn--ab', 'sthree-', 'x-s3alias', '1.2.3.4', '..', 'a_b_c', `${'a'.repeat(70)}--ol-s3`, '-', '.mrap'] },
  checkLabelKey: { check: (v) => checkLabelKey(v, site), bad: ['a b', 'a/b/c', '/x', 'x/', 'Example.com/x', `${'a'.repeat(70)}`, '-x', 'x.'] },
  checkLabelValue: { check: (v) => checkLabelValue(v, site), bad: ['a b', '-x', 'x-', 'x'.repeat(64), 7, false] },
  checkExtendedResourceName: { check: (v) => checkExtendedResourceName(v, site), bad: ['gpu', 'kubernetes.io/gpu', 'a/b/c', 'Nvidia.com/gpu', 'nvidia.com/'] },
  checkImage: { check: (v) => checkImage(v as string, site), bad: ['python', 'python:latest', 'Bad Image:1', 'x@sha256:abc'] },
  checkPostgresIdentifier: { check: (v) => checkPostgresIdentifier(v as string, site), bad: ['1db', 'My-DB', '9'] },
};

describe.each(Object.keys(checkers))('%s', (name) => {
  const { check, bad } = checkers[name];
  // an empty label value is a valid one
  test.each([...bad, ...JS_JUNK.filter((v) => !(name === 'checkLabelValue' && v === ''))].map((v) => [v]))('refuses %j with a fix that passes, and never throws', (value) => {
    const p = check(value);
    expect(p).toBeDefined();
    expect(p!.path).toBe(site.path);
    expect(p!.field).toBe(site.field);
    expect(`${p!.message} ${p!.fix}`).not.toMatch(/\[object Object\]|undefined/);
    for (const v of quoted(p!.fix)) expect([v, check(v)]).toEqual([v, undefined]);
  });
});
