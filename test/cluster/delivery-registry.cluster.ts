import { writeFileSync } from 'fs';
import { join } from 'path';
import { freePort, run, scratch, start, Started, stop, waitFor } from './support/processes';
import { tools } from './support/tools';

// The delivery's registry steps (constructs/delivery/promote.py: gate, promote, rollback) against the real MLflow
// server the platform runs (the tier's MLflow, with its basic-auth app and a user of its own), on model versions
// whose runs logged the metric the gate reads.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const SCRIPT = join(__dirname, '..', '..', 'constructs', 'delivery', 'promote.py');
const ADMIN = { user: 'admin', password: 'tier-admin-password-1' };

describe('the delivery\'s registry steps on a real MLflow', () => {
  let server: Started;
  let uri = '';
  const auth = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`;

  /** One call to MLflow's REST API as the admin. */
  const api = async (method: string, path: string, body?: Obj): Promise<Obj> => {
    const r = await fetch(`${uri}/api/2.0/mlflow/${path}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : {};
  };
  /** A version of `model` whose run logged `roc_auc`. */
  const version = async (model: string, auc: number): Promise<string> => {
    const runInfo = (await api('POST', 'runs/create', { experiment_id: '0', run_name: `auc-${auc}` })).run.info;
    await api('POST', 'runs/log-metric', { run_id: runInfo.run_id, key: 'roc_auc', value: auc, timestamp: Date.now(), step: 0 });
    return (await api('POST', 'model-versions/create', { name: model, source: `${runInfo.artifact_uri}/model`, run_id: runInfo.run_id })).model_version.version;
  };
  /** Runs a step as the delivery's pod would: the image's Python, the tracking URI and the user from the environment. */
  const step = (args: string[]) => {
    const r = run(join(tools().python, 'bin', 'python'), [SCRIPT, ...args], {
      allowFail: true, timeoutMs: 60000,
      env: { PATH: process.env.PATH, MLFLOW_TRACKING_URI: uri, MLFLOW_TRACKING_USERNAME: ADMIN.user, MLFLOW_TRACKING_PASSWORD: ADMIN.password },
    });
    return { status: r.status, result: r.stdout.trim() ? JSON.parse(r.stdout.trim()) as Obj : undefined, stderr: r.stderr };
  };
  const aliasOf = async (model: string) => (await api('GET', `registered-models/get?name=${model}`)).registered_model.aliases ?? [];
  const tagsOf = async (model: string, v: string) => Object.fromEntries(((await api('GET', `model-versions/get?name=${model}&version=${v}`)).model_version.tags ?? []).map((t: Obj) => [t.key, t.value]));

  beforeAll(async () => {
    const dir = scratch('delivery-registry');
    const port = await freePort();
    uri = `http://127.0.0.1:${port}`;
    // MLflow's basic-auth app, configured as the platform's tracking server configures it (its own users database)
    const ini = join(dir, 'basic_auth.ini');
    writeFileSync(ini, ['[mlflow]', 'default_permission = READ', `database_uri = sqlite:///${join(dir, 'auth.db')}`, `admin_username = ${ADMIN.user}`, `admin_password = ${ADMIN.password}`, 'authorization_function = mlflow.server.auth:authenticate_request_basic_auth', 'grant_default_workspace_access = false', ''].join('\n'));
    server = start('mlflow', join(tools().python, 'bin', 'mlflow'), ['server', '--app-name', 'basic-auth', '--backend-store-uri', `sqlite:///${join(dir, 'mlflow.db')}`, '--default-artifact-root', join(dir, 'artifacts'), '--host', '127.0.0.1', '--port', String(port), '--workers', '1'], {
      logDir: dir, env: { ...process.env, MLFLOW_AUTH_CONFIG_PATH: ini, MLFLOW_FLASK_SERVER_SECRET_KEY: 'tier-session-key', MLFLOW_ENABLE_TELEMETRY: 'false', MLFLOW_DISABLE_TELEMETRY: 'true' },
    });
    await waitFor('MLflow answers', async () => ((await fetch(`${uri}/health`)).ok ? true : undefined), 90000, { proc: server });
  }, 120000);
  afterAll(async () => { if (server) await stop(server); });

  test('the gate passes a first candidate over the floor, then only one that beats the champion by the minimum improvement', async () => {
    await api('POST', 'registered-models/create', { name: 'churn' });
    const v1 = await version('churn', 0.91);
    const low = await version('churn', 0.80);
    const floorArgs = ['--model', 'churn', '--metric', 'roc_auc', '--minimum', '0.85', '--min-improvement', '0.01'];
    // no champion yet: the floor decides
    expect(step(['gate', '--version', low, ...floorArgs])).toMatchObject({ status: 3, result: { passed: false, reason: 'roc_auc 0.8 is below the minimum 0.85', champion: null } });
    expect(step(['gate', '--version', v1, ...floorArgs])).toMatchObject({ status: 0, result: { passed: true, reason: 'no champion yet', score: 0.91 } });
    expect(step(['promote', '--model', 'churn', '--version', v1, '--commit', 'a'.repeat(40), '--image', 'registry.example/churn@sha256:' + '1'.repeat(64)])).toMatchObject({ status: 0, result: { version: v1, previous: null } });
    // a candidate must beat the champion by the minimum improvement
    const same = await version('churn', 0.915);
    const better = await version('churn', 0.95);
    expect(step(['gate', '--version', same, ...floorArgs])).toMatchObject({ status: 3, result: { passed: false, champion: v1, championScore: 0.91, reason: 'roc_auc 0.915 does not beat the champion\'s 0.91 by 0.01' } });
    expect(step(['gate', '--version', better, ...floorArgs])).toMatchObject({ status: 0, result: { passed: true, champion: v1 } });
    // a version whose run logged no such metric never passes
    expect(step(['gate', '--version', better, '--model', 'churn', '--metric', 'f1'])).toMatchObject({ status: 3, result: { passed: false, reason: 'the candidate\'s run logged no f1' } });
  });

  test('promote moves the alias and tags the version with commit, image, time and the version it replaced; rollback restores it', async () => {
    await api('POST', 'registered-models/create', { name: 'fraud' });
    const v1 = await version('fraud', 0.9);
    const v2 = await version('fraud', 0.97);
    const sha = 'b'.repeat(40);
    const image = `registry.example/fraud@sha256:${'2'.repeat(64)}`;
    expect(step(['promote', '--model', 'fraud', '--version', v1, '--commit', 'c'.repeat(40), '--image', image]).status).toBe(0);
    expect(step(['promote', '--model', 'fraud', '--version', v2, '--commit', sha, '--image', image])).toMatchObject({ status: 0, result: { alias: 'champion', version: v2, previous: v1 } });
    expect(await aliasOf('fraud')).toEqual([{ alias: 'champion', version: v2 }]);
    const tags = await tagsOf('fraud', v2);
    expect(tags).toMatchObject({ 'cd4ml.commit': sha, 'cd4ml.image': image, 'cd4ml.previous_champion': v1 });
    expect(Date.parse(tags['cd4ml.promoted_at'])).toBeGreaterThan(Date.now() - 600000);
    // the smoke test failed: the alias goes back to v1, and v2 says why
    expect(step(['rollback', '--model', 'fraud', '--version', v2, '--reason', 'smoke test: /invocations answered 500'])).toMatchObject({ status: 0, result: { restored: v1, moved: true } });
    expect(await aliasOf('fraud')).toEqual([{ alias: 'champion', version: v1 }]);
    expect(await tagsOf('fraud', v2)).toMatchObject({ 'cd4ml.rollback_reason': 'smoke test: /invocations answered 500' });
    // a rollback of a version the alias no longer points at moves nothing (a later delivery's promotion stays)
    expect(step(['rollback', '--model', 'fraud', '--version', v2, '--reason', 'late'])).toMatchObject({ status: 0, result: { moved: false } });
    expect(await aliasOf('fraud')).toEqual([{ alias: 'champion', version: v1 }]);
    // the first champion rolled back: no alias at all
    expect(step(['rollback', '--model', 'fraud', '--version', v1, '--reason', 'first'])).toMatchObject({ status: 0, result: { restored: null, moved: true } });
    expect(await aliasOf('fraud')).toEqual([]);
  });

  test('an alias is never taken for a version, a wrong password is an error with MLflow\'s answer and no secret', async () => {
    expect(step(['gate', '--model', 'churn', '--version', 'champion', '--metric', 'roc_auc']).stderr).toMatch(/--version 'champion' is not a version number: give the exact version, never an alias/);
    const r = run(join(tools().python, 'bin', 'python'), [SCRIPT, 'gate', '--model', 'churn', '--version', '1', '--metric', 'roc_auc'], {
      allowFail: true, env: { PATH: process.env.PATH, MLFLOW_TRACKING_URI: uri, MLFLOW_TRACKING_USERNAME: ADMIN.user, MLFLOW_TRACKING_PASSWORD: 'wrong-password-9' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/promote.py gate: MLflow answered 401/);
    expect(r.stderr + r.stdout).not.toMatch(/wrong-password-9|tier-admin-password-1/);
  });
});
