import { stopAll } from './processes';

// A safety net for every tier file: whatever a test started and did not stop (a failure half-way through a set-up,
// say) is stopped when the file ends, so no server outlives its test and jest never waits on one.
afterAll(async () => {
  await stopAll();
});
