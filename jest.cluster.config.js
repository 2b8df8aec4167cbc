/**
 * The real-servers tier (`npm run test:cluster`): runs the components themselves on this machine (a local control
 * plane, Argo, MLflow, S3, Postgres). One test file at a time: they start servers and share two cores.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/cluster'],
  testMatch: ['**/*.cluster.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  maxWorkers: 1,
  setupFilesAfterEnv: ['<rootDir>/test/cluster/support/jest-setup.ts'],
  testTimeout: 600000,
};
