import { checkDataSafeUpgrade, DATA_FORMAT_ANNOTATION, postgresMajor } from '../../lib';

const store = (o: { name?: string; ns?: string; format?: string; storage?: string; storageClassName?: string; image?: string } = {}) => ({
  kind: 'StatefulSet',
  metadata: { name: o.name ?? 'postgres', namespace: o.ns ?? 'cd4ml', annotations: { [DATA_FORMAT_ANNOTATION]: o.format ?? 'postgres 17' } },
  spec: {
    template: { spec: { containers: [{ image: o.image ?? 'postgres:17.11-alpine3.24' }] } },
    volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { storageClassName: o.storageClassName, resources: { requests: { storage: o.storage ?? '5Gi' } } } }],
  },
});

describe('checkDataSafeUpgrade', () => {
  test('passes an unchanged store, a first deploy and a new store', () => {
    expect(checkDataSafeUpgrade([store()], [store()])).toEqual([]);
    expect(checkDataSafeUpgrade([], [store()])).toEqual([]);
    expect(checkDataSafeUpgrade([store()], [store(), store({ name: 'seaweedfs', format: 'seaweedfs' })])).toEqual([]);
  });

  test('refuses a resize and a StorageClass change, naming the procedure', () => {
    const p = checkDataSafeUpgrade([store({ storageClassName: 'standard' })], [store({ storage: '50Gi', storageClassName: 'fast' })]);
    expect(p.map((x) => [x.field, x.value])).toEqual([['volumeClaimTemplates.data.storage', '50Gi'], ['volumeClaimTemplates.data.storageClassName', 'fast']]);
    expect(p[0].fix).toMatch(/^keep 5Gi; to grow it, follow README "Resizing a store".*CD4ML_ACKNOWLEDGE_DATA_CHANGE=cd4ml\/postgres$/);
    expect(p[1].fix).toMatch(/^keep "standard"/);
  });

  test('refuses a Postgres major version change, and lets a minor one through', () => {
    expect(checkDataSafeUpgrade([store()], [store({ format: 'postgres 18', image: 'postgres:18.1-alpine' })])).toEqual([
      expect.objectContaining({ path: 'StatefulSet cd4ml/postgres', field: 'data format', value: 'postgres 18', fix: expect.stringMatching(/^keep the "postgres 17" image \(postgres:17\.11-alpine3\.24\)/) }),
    ]);
    expect(checkDataSafeUpgrade([store()], [store({ image: 'postgres:17.12-alpine3.24' })])).toEqual([]);
  });

  test('refuses a store moved to another namespace or dropped (the MinIO to SeaweedFS switch included)', () => {
    expect(checkDataSafeUpgrade([store()], [store({ ns: 'mlops' })])[0]).toMatchObject({ field: 'namespace', value: 'mlops', fix: expect.stringMatching(/^keep it in namespace "cd4ml"/) });
    expect(checkDataSafeUpgrade([store({ name: 'minio', format: 'minio' })], [store({ name: 'seaweedfs', format: 'seaweedfs' })])[0]).toMatchObject({
      path: 'StatefulSet cd4ml/minio', field: 'store', value: '(removed)', fix: expect.stringContaining('ObjectStoreChoice.minio()'),
    });
  });

  test('guards outputs written before the data-format annotation: a dropped MinIO, a StorageClass set where none was', () => {
    const unannotated = (o: Parameters<typeof store>[0]) => { const s = store(o); delete (s.metadata as { annotations?: unknown }).annotations; return s; };
    expect(checkDataSafeUpgrade([unannotated({ name: 'minio' }), unannotated({})], [store({ storageClassName: 'cd4ml-retain' }), store({ name: 'seaweedfs', format: 'seaweedfs' })]).map((p) => `${p.path} ${p.field}`)).toEqual([
      'StatefulSet cd4ml/minio store', 'StatefulSet cd4ml/postgres volumeClaimTemplates.data.storageClassName',
    ]);
  });

  test('passes what was acknowledged after its migration, and ignores objects that are not stores', () => {
    expect(checkDataSafeUpgrade([store()], [store({ storage: '50Gi' })], ['cd4ml/postgres'])).toEqual([]);
    expect(checkDataSafeUpgrade([{ kind: 'StatefulSet', metadata: { name: 'x', namespace: 'y' } }, null as never, 'junk' as never], [])).toEqual([]);
  });

  test('reads the major version from an image tag', () => {
    expect(['postgres:17.11-alpine3.24', 'postgres:16', 'registry.example/pg/postgres:18-bookworm@sha256:abc', 'postgres:latest'].map(postgresMajor)).toEqual(['17', '16', '18', undefined]);
  });
});
