import { spawnSync } from 'child_process';
import { join } from 'path';

// The delivery's Kubernetes steps (constructs/delivery/delivery.py) hold decisions that are plain functions: when a
// rollout is done, which version a run registered, what a smoke test accepts. They run here in Python, as the step's
// image runs them; the steps against the API server and MLflow run in the real-servers tier.

const DIR = join(__dirname, '..', '..', 'constructs', 'delivery');

/** Runs Python with delivery.py importable; returns what the code printed as JSON. */
function py(code: string, env: NodeJS.ProcessEnv = {}): { status: number | null; out: unknown; stderr: string } {
  const r = spawnSync('python3', ['-c', `import sys, json\nsys.path.insert(0, ${JSON.stringify(DIR)})\nimport delivery\n${code}`], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 30000 });
  return { status: r.status, out: r.stdout.trim() ? JSON.parse(r.stdout.trim().split('\n').pop()!) : undefined, stderr: r.stderr };
}

describe('delivery.py', () => {
  test('a rollout is done once the controller saw the change and every replica is new, available and alone', () => {
    const cases = {
      done: { metadata: { generation: 3 }, spec: { replicas: 2 }, status: { observedGeneration: 3, replicas: 2, updatedReplicas: 2, availableReplicas: 2 } },
      notObserved: { metadata: { generation: 4 }, spec: { replicas: 2 }, status: { observedGeneration: 3, replicas: 2, updatedReplicas: 2, availableReplicas: 2 } },
      oldPodLeft: { metadata: { generation: 3 }, spec: { replicas: 1 }, status: { observedGeneration: 3, replicas: 2, updatedReplicas: 1, availableReplicas: 2 } },
      notAvailable: { metadata: { generation: 3 }, spec: { replicas: 1 }, status: { observedGeneration: 3, replicas: 1, updatedReplicas: 1, availableReplicas: 0, unavailableReplicas: 1 } },
      noStatus: { metadata: { generation: 1 }, spec: {} },
    };
    const r = py(`print(json.dumps({k: delivery.rolled_out(v) for k, v in json.loads(${JSON.stringify(JSON.stringify(cases))}).items()}))`);
    expect(r.stderr).toBe('');
    expect(r.out).toEqual({ done: true, notObserved: false, oldPodLeft: false, notAvailable: false, noStatus: false });
  });

  test('register creates a version, reuses one with the same spec (a retried step), and refuses to change one in place', () => {
    // the API server played by a dict: POST answers 409 for a name it holds, GET returns what it holds
    const code = (held: unknown) => `
import tempfile, types, os
held = json.loads(${JSON.stringify(JSON.stringify(held))})
calls = []
def kube(method, path, body=None):
    calls.append(method)
    if method == "POST":
        if held is not None:
            raise delivery.KubeError(409, "AlreadyExists", "exists")
        return body
    return held
delivery.kube = kube
delivery.log = lambda m: None
d = tempfile.mkdtemp()
with open(os.path.join(d, "t.json"), "w") as f:
    json.dump({"metadata": {"name": "breast-cancer-0123456789ab", "namespace": "ml-staging"}, "spec": {"entrypoint": "main"}}, f)
args = types.SimpleNamespace(template=os.path.join(d, "t.json"), namespace="ml-staging", output=os.path.join(d, "out", "template"))
rc = delivery.register(args)
out = open(args.output).read() if os.path.exists(args.output) else None
print(json.dumps({"rc": rc, "calls": calls, "output": out}))`;
    const outcome = (held: unknown) => { const r = py(code(held)); expect(r.stderr).toBe(''); return r.out; };
    expect(outcome(null)).toEqual({ rc: 0, calls: ['POST'], output: 'breast-cancer-0123456789ab' });
    expect(outcome({ spec: { entrypoint: 'main' } })).toEqual({ rc: 0, calls: ['POST', 'GET'], output: 'breast-cancer-0123456789ab' });
    expect(outcome({ spec: { entrypoint: 'other' } })).toEqual({ rc: 1, calls: ['POST', 'GET'], output: null });
  });

  test('the candidate is the version the registering step wrote, from its last successful attempt', () => {
    const wf = {
      status: {
        nodes: {
          a: { displayName: 'train-model(0)', phase: 'Failed', outputs: { parameters: [{ name: 'model_version', value: '5' }] } },
          b: { displayName: 'train-model', phase: 'Succeeded', finishedAt: '2026-12-04T10:00:00Z', outputs: { parameters: [{ name: 'model_version', value: '6' }] } },
          c: { displayName: 'train-model', phase: 'Succeeded', finishedAt: '2026-12-04T11:00:00Z', outputs: { parameters: [{ name: 'model_version', value: '7' }] } },
          d: { displayName: 'deploy-model', phase: 'Succeeded', outputs: { parameters: [{ name: 'model_version', value: '99' }] } },
        },
      },
    };
    const r = py(`w = json.loads(${JSON.stringify(JSON.stringify(wf))})\nprint(json.dumps([delivery.candidate_version(w, "train-model", "model_version"), delivery.candidate_version(w, "train-model", "run_id"), delivery.candidate_version({}, "x", "y")]))`);
    expect(r.out).toEqual(['7', null, null]);
  });

  test('a run is named after its template and the delivery: a retried step finds its run; a DNS label however long', () => {
    const r = py(`print(json.dumps([delivery.run_name("breast-cancer-0123456789ab", "cd4ml-delivery-staging-abc"), delivery.run_name("breast-cancer-0123456789ab", "cd4ml-delivery-staging-abc"), delivery.run_name("breast-cancer-0123456789ab", "cd4ml-delivery-staging-abd"), delivery.run_name("p" * 50 + "-0123456789ab", "d")]))`);
    const [a, same, other, long] = r.out as string[];
    expect(a).toMatch(/^breast-cancer-0123456789ab-[0-9a-f]{6}$/);
    expect(same).toBe(a);
    expect(other).not.toBe(a);
    expect(long.length).toBeLessThanOrEqual(63);
  });

  test('the endpoint\'s version is read from its one env value; a Deployment that is no endpoint is an error', () => {
    const endpoint = { spec: { template: { spec: { containers: [{ name: 'model', env: [{ name: 'CD4ML_MODEL_VERSION', value: '4' }] }] } } } };
    expect(py(`print(json.dumps(delivery.served_version(json.loads(${JSON.stringify(JSON.stringify(endpoint))}))))`).out).toBe('4');
    const other = py(`delivery.served_version({"spec": {"template": {"spec": {"containers": [{"name": "web"}]}}}})`);
    expect(other.status).toBe(1);
    expect(other.stderr).toMatch(/it is not a ModelEndpoint/);
  });

  describe('the smoke test', () => {
    let base = '';
    const answers: Record<string, [number, string]> = {
      '/ok/invocations': [200, JSON.stringify({ predictions: [0, 1, 1] })],
      '/empty/invocations': [200, JSON.stringify({ predictions: [] })],
      '/broken/invocations': [500, JSON.stringify({ error_code: 'INTERNAL_ERROR', message: 'this version cannot predict' })],
    };

    const smoke = async (path: string) => {
      const child = spawnSync('python3', ['-c', `import sys, json\nsys.path.insert(0, ${JSON.stringify(DIR)})\nimport delivery\ntry:\n    print(json.dumps({"predictions": delivery.smoke_test(sys.argv[1], b'{"dataframe_split": {"columns": ["a"], "data": [[1]]}}', 10)}))\nexcept ValueError as e:\n    print(json.dumps({"error": str(e)}))`, `${base}${path}`], { encoding: 'utf8', timeout: 30000 });
      return JSON.parse(child.stdout.trim());
    };
    // (spawnSync blocks this process's event loop, so the scoring server stand-in answers from a child of its own)
    test('passes predictions and refuses an error or an empty answer, saying what the server said', async () => {
      const script = `
const { spawnSync } = require('child_process');
const http = require('http');
const answers = ${JSON.stringify(answers)};
const server = http.createServer((req, res) => { const [s, b] = answers[req.url] || [404, 'not found']; req.resume(); req.on('end', () => { res.writeHead(s, { 'content-type': 'application/json' }); res.end(b); }); });
server.listen(0, '127.0.0.1', () => { process.stdout.write(String(server.address().port) + '\\n'); });
setTimeout(() => process.exit(0), 20000);`;
      const { spawn } = await import('child_process');
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const port = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
      base = `http://127.0.0.1:${port}`;
      try {
        expect(await smoke('/ok')).toEqual({ predictions: [0, 1, 1] });
        expect((await smoke('/broken')).error).toMatch(/^\/invocations answered 500: .*this version cannot predict/);
        expect((await smoke('/empty')).error).toMatch(/^\/invocations answered without predictions/);
        expect((await smoke('/nowhere')).error).toMatch(/^\/invocations answered 404/);
      } finally {
        child.kill();
      }
    });
  });
});
