import { Chart } from 'cdk8s';
import { ExternalObjectStore, ExternalPostgresDatabase, Pipeline, Platform, SecretRef } from '../../../constructs';
import { checkNoCredential, findCredential, formatProblem } from '../../../lib';
import { Obj, synth } from '../../support/manifests';
import { accepted, chart, problemsOf } from './support';

// Given a value that looks like a credential where it would be written into the manifests in plain text, when a
// construct receives it, then it is refused, the value is never shown, and the fix says to pass a Secret reference.

/** Credential-looking values, each as it might be pasted. None is a real credential. */
const SECRETS: Array<[string, string]> = [
  ['postgresql://mlflow:s3cr3t@db.example.com/mlflow', 'a URL with a user and password'],
  ['https://user:pass@example.com', 'a URL with a user and password'],
  [`AKIA${'IOSFODNN7EXAMPLE'}`, 'an AWS access key id'],
  [`-----BEGIN RSA ${'PRIVATE KEY'}-----\nMIIB...`, 'a private key'],
  [`-----BEGIN OPENSSH ${'PRIVATE KEY'}-----`, 'a private key'],
  ['password=hunter2', 'a password=... pair'],
  ['host=db user=ml password=hunter2', 'a password=... pair'],
  ['--token=abcdef123456', 'a token=... pair'],
  ['api_key: 0123456789abcdef', 'a api_key=... pair'],
  [`ghp_${'a'.repeat(36)}`, 'a GitHub token'],
  [`github_pat_${'A1'.repeat(20)}`, 'a GitHub token'],
  [`glpat-${'x'.repeat(20)}`, 'a GitLab token'],
  [`xoxb-${'1'.repeat(12)}-abc`, 'a Slack token'],
  [`hf_${'a'.repeat(34)}`, 'a Hugging Face token'],
  [`sk-proj-${'a'.repeat(40)}`, 'an API secret key'],
  [`AIza${'b'.repeat(35)}`, 'a Google API key'],
  [`eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.${'c'.repeat(20)}`, 'a JSON Web Token'],
  [`Bearer ${'d'.repeat(30)}`, 'an Authorization header value'],
];

/** Ordinary values that must not be mistaken for credentials. */
const PLAIN = [
  'info', 'ssh://git@github.com/org/repo.git', 's3://data/train.csv', 'http://mlflow.cd4ml.svc.cluster.local:5000', '--max_token=512', 'max_tokens=100',
  '--token-file=/run/secrets/token', 'password=$(DB_PASSWORD)', '--password=${DB_PASSWORD}', 'token={{workflow.parameters.x}}', 'tokenizer=bert-base-uncased',
  'AKIA', 'sk-learn', 'use_auth_token=true', 'secret_name=api-token',
];

describe('findCredential', () => {
  test.each(SECRETS)('recognizes %j as %s', (value, what) => expect(findCredential(value)).toBe(what));
  test.each(PLAIN)('does not mistake %j for a credential', (value) => expect(findCredential(value)).toBeUndefined());

  test('a problem never shows the value, even when a checker forgot to redact it', () => {
    const p = checkNoCredential('password=hunter2', { path: 'p', field: 'f' })!;
    expect(p.value).toBe('(redacted)');
    expect(formatProblem({ path: 'p', field: 'f', value: 'password=hunter2', message: 'm', fix: 'x' })).toBe('p: f = "(redacted)": m. Fix: x');
    expect(formatProblem({ path: 'p', field: 'f', value: ['ok', { nested: `ghp_${'a'.repeat(36)}` }], message: 'm', fix: 'x' })).not.toMatch(/ghp_/);
  });
});

describe('a database host', () => {
  const db = (host: unknown) => new ExternalPostgresDatabase(chart(), 'db', { host: host as string, databaseName: 'mlflow', credentials: SecretRef.fromSecretName('pg', ['username', 'password']) });

  test.each([...SECRETS.map(([v]) => v), 'mlflow@db.example.com', 'mlflow:s3cr3t@db.example.com'])('fails when the host holds %j, without echoing it', (host) => {
    const problems = problemsOf(() => db(host));
    const p = problems.find((x) => x.field === 'host')!;
    expect(p.value).toBe('(redacted)');
    expect(p.message).toMatch(/looks like a credential/);
    expect(p.fix).toMatch(/credentials Secret/);
    const secretPart = host.includes('hunter2') ? 'hunter2' : host.includes('s3cr3t') ? 's3cr3t' : host.slice(0, 12);
    expect(formatProblem(p)).not.toContain(secretPart);
    accepted(db, /"([^"]*)"/.exec(p.fix)![1], 'host');
  });
});

describe('an object store endpoint', () => {
  test('fails when the endpoint carries a token in its query, without echoing it', () => {
    const problems = problemsOf(() => new ExternalObjectStore(chart(), 's3', { endpoint: 'https://s3.example.com/?X-Amz-Security-Token=x&token=abcdef', sharedCredentials: SecretRef.fromSecretName('s3', ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) }));
    expect(problems).toEqual([expect.objectContaining({ field: 'endpoint', value: '(redacted)', message: 'holds credentials' })]);
  });
});

describe('a pipeline step', () => {
  const IMAGE = 'registry.example/train:1.0.0';
  let pipeline: Pipeline;
  let c: Chart;
  const fresh = () => {
    c = chart();
    const platform = new Platform(c, 'platform');
    pipeline = new Pipeline(c, 'train', { runner: platform.pipelineRunner });
    return pipeline;
  };

  test.each(SECRETS)('fails when an env value holds %j (%s), and never shows it', (value) => {
    const problems = problemsOf(() => fresh().addStep('train', { image: IMAGE, env: { DB_URL: value } }));
    expect(problems).toEqual([expect.objectContaining({ field: 'env.DB_URL', value: '(redacted)', message: expect.stringMatching(/looks like a credential .*plain text/) })]);
    expect(problems[0].fix).toMatch(/Secret reference: secretEnv/);
  });

  test.each(SECRETS)('fails when an argument holds %j', (value) => {
    const problems = problemsOf(() => fresh().addStep('train', { image: IMAGE, args: ['train.py', value] }));
    expect(problems).toEqual([expect.objectContaining({ field: 'args[1]', value: '(redacted)' })]);
  });

  test.each([['--password', 'hunter2'], ['--api-key', 'abc123'], ['-token', 'xyz']])('fails when %s is followed by a literal', (flag, value) => {
    const problems = problemsOf(() => fresh().addStep('train', { image: IMAGE, args: [flag, value] }));
    expect(problems).toEqual([expect.objectContaining({ field: 'args[1]', value: '(redacted)', message: expect.stringMatching(new RegExp(`follows ${flag}`)) })]);
  });

  test('fails when a command, literal input, fan-out item, parameter default or schedule argument holds a credential', () => {
    const token = `ghp_${'a'.repeat(36)}`;
    expect(problemsOf(() => fresh().addStep('train', { image: IMAGE, command: ['sh', '-c', `curl -H "Authorization: Bearer ${'e'.repeat(30)}" x`] })).map((p) => p.field)).toEqual(['command[2]']);
    expect(problemsOf(() => fresh().addStep('train', { image: IMAGE, inputs: { token } })).map((p) => [p.field, p.value])).toEqual([['inputs.token', '(redacted)']]);
    expect(problemsOf(() => fresh().addParameter('hub_token', { type: 'string' as never, default: token })).map((p) => [p.field, p.value])).toEqual([
      ['parameters.hub_token.default', '(redacted)'],
      ['steps', []], // the same report says the pipeline has no steps yet
    ]);
  });

  test('the fix works: the credential comes from a Secret by reference, and arguments refer to it', () => {
    let m: Obj[] = [];
    m = synth((ch) => {
      const platform = new Platform(ch, 'platform');
      const p = new Pipeline(ch, 'train', { runner: platform.pipelineRunner });
      const hub = SecretRef.fromSecretName('hub-token', ['token']);
      p.addStep('train', { image: IMAGE, args: ['--token', '$(HF_TOKEN)', '--password=$(DB_PASSWORD)'], env: { LOG_LEVEL: 'info' }, secretEnv: { HF_TOKEN: { secret: hub, key: 'token' } } });
      expect(hub.requiredIn).toEqual(['ml-pipelines']);
    }).objects;
    const template = m.find((o) => o.kind === 'WorkflowTemplate' && o.metadata.name === 'train')!;
    const container = template.spec.templates.find((t: Obj) => t.name === 'train').container;
    expect(container.env).toContainEqual({ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hub-token', key: 'token' } } });
    expect(container.args).toEqual(['--token', '$(HF_TOKEN)', '--password=$(DB_PASSWORD)']);
  });

  test('fails when secretEnv names a key the Secret lacks, a reserved name, or a name env sets too', () => {
    const hub = SecretRef.fromSecretName('hub-token', ['token']);
    const problems = problemsOf(() => fresh().addStep('train', { image: IMAGE, env: { HF_TOKEN_NAME: 'x' }, secretEnv: { HF_TOKEN: { secret: hub, key: 'tok' }, AWS_SECRET_ACCESS_KEY: { secret: hub, key: 'token' }, HF_TOKEN_NAME: { secret: hub, key: 'token' } } }));
    // env.HF_TOKEN_NAME: its name looks like a credential's, so it belongs in secretEnv
    expect(problems.map((p) => p.field).sort()).toEqual(['env.HF_TOKEN_NAME', 'secretEnv.AWS_SECRET_ACCESS_KEY', 'secretEnv.HF_TOKEN.key', 'secretEnv.HF_TOKEN_NAME']);
  });

  test.each(PLAIN)('accepts the ordinary value %j in env and args', (value) => {
    expect(problemsOf(() => fresh().addStep('train', { image: IMAGE, env: { SETTING: value }, args: [value] }))).toEqual([]);
  });
});
