import { createHash } from 'crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Platform } from '../../constructs';
import { imageRepository, versionedTemplate } from '../../lib/ci-template';
import { main } from '../../lib/cli';
import { toYaml } from '../../lib/yaml';
import { breastCancerPipeline } from '../../stacks/pipelines';
import { Obj, synth } from '../support/manifests';

const BASE = 'registry.example/team/cd4ml-examples:0.1.0';
const BUILT = `registry.example/team/cd4ml-examples@sha256:${'ab'.repeat(32)}`;
const REVISION = '0123456789abcdef0123456789abcdef01234567';

/** The seed pipeline synthesized into `<dir>/pipelines/`, as `npm run synth` leaves it. */
function output(): { dir: string; original: Obj } {
  const m = synth((chart) => {
    const platform = new Platform(chart, 'platform', {});
    breastCancerPipeline(chart, { runner: platform.pipelineRunner, image: BASE });
  });
  const dir = join(mkdtempSync(join(tmpdir(), 'cd4ml-ci-template-')), 'pipelines');
  mkdirSync(dir);
  const pipelines = m.objects.filter((o) => o.metadata?.namespace === 'ml-pipelines' && ['WorkflowTemplate', 'CronWorkflow', 'WorkflowEventBinding'].includes(o.kind));
  writeFileSync(join(dir, 'breast-cancer.yaml'), toYaml(pipelines));
  return { dir, original: m.find('WorkflowTemplate', 'breast-cancer', 'ml-pipelines') };
}

describe('versionedTemplate (cd4ml ci template, the delivery\'s render step)', () => {
  const { dir, original } = output();
  const request = { dir, pipeline: 'breast-cancer', revision: REVISION, ref: 'refs/heads/main', image: BUILT, replace: [BASE], namespace: 'ml-pipelines' };

  test('names the version after the commit, labels and annotates it, and runs the built image by digest', () => {
    const t = versionedTemplate(request);
    expect(t.metadata).toEqual({
      name: 'breast-cancer-0123456789ab',
      namespace: 'ml-pipelines',
      labels: { ...original.metadata.labels, 'cd4ml.io/pipeline': 'breast-cancer', 'cd4ml.io/revision': REVISION },
      annotations: { ...original.metadata.annotations, 'cd4ml.io/image': BUILT, 'cd4ml.io/ref': 'refs/heads/main', 'cd4ml.io/revision': REVISION },
    });
    const images = (t.spec as Obj).templates.filter((x: Obj) => x.container).map((x: Obj) => x.container.image);
    expect(images.length).toBeGreaterThan(0);
    expect(new Set(images)).toEqual(new Set([BUILT]));
    // nothing else changed
    const strip = (o: Obj) => JSON.stringify(o).split(BUILT).join('IMAGE').replace(/-v1-[0-9a-f]{12}-/g, '-v1-KEY-');
    expect(strip(t.spec as Obj)).toBe(strip({ ...original.spec, templates: original.spec.templates.map((x: Obj) => (x.container ? { ...x, container: { ...x.container, image: BUILT } } : x)) }));
  });

  test('a cached step\'s key names the built image, so a new build never reuses an older build\'s outputs', () => {
    const key = (o: Obj) => o.spec.templates.find((x: Obj) => x.dag).dag.tasks.find((x: Obj) => x.name === 'prepare-data').arguments.parameters.find((p: Obj) => p.name === 'cache-key').value as string;
    const hash = (image: string) => createHash('sha256').update(image).digest('hex').slice(0, 12);
    expect(key(original)).toContain(`prepare-data-v1-${hash(BASE)}`);
    expect(key(versionedTemplate(request) as Obj)).toContain(`prepare-data-v1-${hash(BUILT)}`);
    const other = versionedTemplate({ ...request, image: `registry.example/team/cd4ml-examples@sha256:${'cd'.repeat(32)}` }) as Obj;
    expect(key(other)).not.toBe(key(versionedTemplate(request) as Obj));
  });

  test('refuses what would register a wrong version, saying how to fix it', () => {
    expect(() => versionedTemplate({ ...request, pipeline: 'churn' })).toThrow(`no WorkflowTemplate "churn" in ${dir}. Fix: name the pipeline`);
    expect(() => versionedTemplate({ ...request, replace: ['registry.example/team/other:1.0'] })).toThrow(/no step of "breast-cancer" runs registry.example\/team\/other .*so the built image would never run/);
    expect(() => versionedTemplate({ ...request, image: 'registry.example/team/cd4ml-examples:latest' })).toThrow(/is not an image by digest/);
    expect(() => versionedTemplate({ ...request, revision: 'main' })).toThrow(/is not a full commit name/);
    expect(() => versionedTemplate({ ...request, dir: join(dir, 'missing') })).toThrow(/is not a directory. Fix: synthesize the environment first/);
  });

  test('with pipeline domains, takes the template synthesized for the environment\'s namespace, and none of another', () => {
    // given the seed pipeline in the platform's namespace and in a domain's, as the sandbox's output holds it
    const m = synth((chart) => {
      const platform = new Platform(chart, 'platform', { pipelineDomains: { staging: {} } });
      breastCancerPipeline(chart, { runner: platform.pipelineRunner, image: BASE });
      breastCancerPipeline(chart, { runner: platform.domain('staging')!.runner, image: BASE, id: 'breast-cancer-staging', triggers: false });
    });
    const domainsDir = join(mkdtempSync(join(tmpdir(), 'cd4ml-ci-template-')), 'pipelines');
    mkdirSync(domainsDir);
    for (const ns of ['ml-pipelines', 'ml-staging']) writeFileSync(join(domainsDir, `${ns}.yaml`), toYaml(m.objects.filter((o) => o.metadata?.namespace === ns && o.kind === 'WorkflowTemplate')));
    // when
    const t = versionedTemplate({ ...request, dir: domainsDir, namespace: 'ml-staging' }) as Obj;
    // then the domain's: its controller's instance ID, its S3 user's Secret, its own cache
    expect(t.metadata.labels['workflows.argoproj.io/controller-instanceid']).toBe('cd4ml-staging');
    expect(JSON.stringify(t.spec)).toContain('seaweedfs-pipelines-staging');
    expect(t.spec.templates.find((x: Obj) => x.memoize).memoize.cache.configMap.name).toBe('breast-cancer-cache-staging');
    // and a namespace without one is refused, never given another namespace's template
    expect(() => versionedTemplate({ ...request, dir: domainsDir, namespace: 'ml-dev' })).toThrow('no WorkflowTemplate "breast-cancer" in namespace ml-dev');
  });

  test('imageRepository drops the tag and the digest, not a registry port', () => {
    expect(imageRepository('registry:5000/team/app:1.0')).toBe('registry:5000/team/app');
    expect(imageRepository('registry:5000/team/app@sha256:abc')).toBe('registry:5000/team/app');
    expect(imageRepository('registry:5000/team/app')).toBe('registry:5000/team/app');
    expect(imageRepository('app:1.0')).toBe('app');
  });

  test('the CLI writes it as JSON, and says what is wrong with exit code 1 or 2', () => {
    const out = join(dir, '..', 'template.json');
    const lines: string[] = [];
    const errors: string[] = [];
    const args = ['ci', 'template', '--dir', dir, '--pipeline', 'breast-cancer', '--revision', REVISION, '--image', BUILT, '--replace', BASE, '--namespace', 'ml-pipelines', '--out', out, '--ref', 'refs/heads/main'];
    expect(main(args, (l) => lines.push(l), (l) => errors.push(l))).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(versionedTemplate(request));
    expect(lines).toEqual([`cd4ml ci template: wrote WorkflowTemplate ml-pipelines/breast-cancer-0123456789ab to ${out}, running ${BUILT}`]);
    expect(main(['ci', 'template', '--dir', dir], () => undefined, (l) => errors.push(l))).toBe(2);
    expect(errors[0]).toBe('cd4ml ci template: --pipeline, --revision, --image, --replace, --namespace, --out are missing');
    expect(main([...args.slice(0, 5), 'churn', ...args.slice(6)], () => undefined, (l) => errors.push(l))).toBe(1);
  });
});
