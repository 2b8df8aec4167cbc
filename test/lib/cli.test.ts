import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EnvironmentName } from '../../lib';
import { main } from '../../lib/cli';
import { Pipeline } from '../../constructs';
import { buildApp } from '../../stacks/app';

describe('cd4ml graph', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'cd4ml-graph-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('draws every pipeline of a synthesized stack, exactly as Pipeline.toMermaid() does', () => {
    // given the dev stack (with the GPU sweep) synthesized to disk
    const { app, pipelines } = buildApp(EnvironmentName.DEV, join(dir, 'dist'));
    app.synth();
    const lines: string[] = [];
    // when
    const code = main(['graph', join(dir, 'dist'), '--out', join(dir, 'graphs')], (l) => lines.push(l));
    // then
    expect(code).toBe(0);
    expect(lines).toEqual([`wrote ${join(dir, 'graphs', 'breast-cancer.mmd')}`, `wrote ${join(dir, 'graphs', 'breast-cancer-gpu-sweep.mmd')}`]);
    for (const p of pipelines.node.findAll().filter((c): c is Pipeline => c instanceof Pipeline)) expect(readFileSync(join(dir, 'graphs', `${p.name}.mmd`), 'utf8')).toBe(p.toMermaid());
    expect(readFileSync(join(dir, 'graphs', 'breast-cancer-gpu-sweep.mmd'), 'utf8')).toContain('train_candidate["train-candidate (1 GPU, fan-out)"]');
  });

  test('fails with the fix when nothing was synthesized, and shows usage for an unknown command', () => {
    const errors: string[] = [];
    expect(main(['graph', join(dir, 'missing')], () => undefined, (l) => errors.push(l))).toBe(1);
    expect(errors[0]).toMatch(/does not exist. Fix: synthesize first/);
    expect(main(['draw'], () => undefined, (l) => errors.push(l))).toBe(2);
    expect(errors[1]).toMatch(/^cd4ml: unknown command "draw". usage: cd4ml graph/);
    expect(main([], () => undefined, (l) => errors.push(l))).toBe(2);
    expect(errors[2]).toMatch(/^usage: cd4ml graph/);
  });

  test('--help, -h and help print the usage on stdout and succeed', () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['graph', '--help'], ['validate', '--help'], ['ci', '--help']]) {
      const out: string[] = [];
      const err: string[] = [];
      expect([argv, main(argv, (l) => out.push(l), (l) => err.push(l)), out.length, err]).toEqual([argv, 0, 1, []]);
      expect(out[0]).toMatch(/^usage: cd4ml graph/);
      expect(out[0]).toContain('\n       cd4ml validate DIR [--known-secret NS/NAME:KEY1,KEY2]... [--known-namespace NS]... [--json]\n');
      expect(out[0]).toContain('\n       cd4ml ci trigger [--host github|gitlab] [--ref REF] [--revision SHA] [--repository URL] [--namespace NS] [--dir DIR]\n');
    }
  });
});

describe('cd4ml env', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'cd4ml-env-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('writes the client configuration of the synthesized sandbox: port-forwards, and commands for the credentials, no secret', () => {
    const { app } = buildApp(EnvironmentName.SANDBOX, join(dir, 'dist'));
    app.synth();
    const out: string[] = [];
    expect(main(['env', join(dir, 'dist'), '--out', join(dir, 'cd4ml.env')], (l) => out.push(l))).toBe(0);
    expect(out).toEqual([`wrote ${join(dir, 'cd4ml.env')}`]);
    const text = readFileSync(join(dir, 'cd4ml.env'), 'utf8');
    const vars = Object.fromEntries(text.split('\n').filter((l) => /^[A-Z0-9_]+=/.test(l)).map((l) => l.split(/=(.*)/s).slice(0, 2)));
    expect(vars).toEqual({
      MLFLOW_TRACKING_URI: 'http://localhost:5050', MLFLOW_TRACKING_USERNAME: 'admin',
      ARGO_SERVER: 'localhost:2746', ARGO_NAMESPACE: 'ml-pipelines', ARGO_SECURE: 'true', ARGO_INSECURE_SKIP_VERIFY: 'true', ARGO_HTTP1: 'true',
    });
    expect(text).toContain('#   kubectl -n cd4ml port-forward svc/mlflow 5050:5000 >/dev/null &');
    expect(text).toContain('#   kubectl -n argo port-forward svc/argo-server 2746:2746 >/dev/null &');
    expect(text).toContain(`#   export MLFLOW_TRACKING_PASSWORD="$(kubectl -n cd4ml get secret mlflow-admin -o jsonpath='{.data.MLFLOW_TRACKING_PASSWORD}' | base64 -d)"`);
    expect(text).toContain('#   export ARGO_TOKEN="Bearer $(kubectl -n ml-pipelines create token argo-user --duration 8h)"');
    // no variable it sets could be a password or a token (the comments say how to fetch them)
    expect(text.split('\n').filter((l) => !l.startsWith('#')).join('\n')).not.toMatch(/PASSWORD|TOKEN|SECRET/);
  });

  test('behind an ingress, the external hosts over TLS, verified; without a platform or a directory, the fix', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { clientConfig } = require('../../lib');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { IngressTls, NetworkPeer, Platform } = require('../../constructs');
    const { Chart, Testing } = require('cdk8s'); // eslint-disable-line @typescript-eslint/no-require-imports
    const c = new Chart(Testing.app(), 'dev');
    new Platform(c, 'platform', { ingress: { className: 'nginx', controller: NetworkPeer.pods('ingress-nginx', { app: 'ingress-nginx' }), tls: IngressTls.certManager({ clusterIssuer: 'le' }), hosts: { trackingServer: 'mlflow.ml.example.com', workflowServer: 'argo.ml.example.com' } } });
    const config = clientConfig(Testing.synth(c));
    expect(config.env).toMatchObject({ MLFLOW_TRACKING_URI: 'https://mlflow.ml.example.com', ARGO_SERVER: 'argo.ml.example.com:443', ARGO_INSECURE_SKIP_VERIFY: 'false' });
    expect(config.commands.some((x: string) => x.includes('port-forward'))).toBe(false);
    expect(config.urls).toEqual({ mlflow: 'https://mlflow.ml.example.com', argo: 'https://argo.ml.example.com' });
    const errors: string[] = [];
    expect(main(['env', join(dir, 'missing')], () => undefined, (l) => errors.push(l))).toBe(1);
    expect(errors[0]).toMatch(/does not exist. Fix: synthesize first/);
    expect(main(['env', dir], () => undefined, (l) => errors.push(l))).toBe(1);
    expect(errors[1]).toMatch(/no cd4ml platform in .*Fix: declare a Platform/);
    const help: string[] = [];
    expect(main(['env', '--help'], (l) => help.push(l))).toBe(0);
    expect(help[0]).toMatch(/cd4ml env \[DIST_DIR\] \[--out FILE\]/);
  });
});
