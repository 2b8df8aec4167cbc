import {
  Cd4mlValidationError, checkCron, checkDuration, checkResources, ContainerResources, DurationCheckOptions, formatDuration, formatProblem,
  parseDuration, parseGoDuration, Problem, Problems, Quantity, QuantityKind,
} from '../../lib';

const site = { path: 'sandbox/train/nightly', field: 'cron' };

/** The values a fix quotes; each must itself pass the check that refused the input. */
function quoted(fix: string): string[] {
  return [...fix.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
}

/** Asserts the problem names the field and the value, and that every value its fix quotes passes `check`. */
function expectProblem(problem: Problem | undefined, value: unknown, check: (v: string) => Problem | undefined): Problem {
  expect(problem).toBeDefined();
  const p = problem!;
  expect(p.path).toBe(site.path);
  expect(p.field).toBe(site.field);
  expect(p.value).toBe(value);
  expect(formatProblem(p)).toContain(`${site.field} = `);
  const values = quoted(p.fix);
  expect(values.length).toBeGreaterThan(0);
  for (const v of values) expect([v, check(v)]).toEqual([v, undefined]);
  return p;
}

/** The first quoted value of a fix: the corrected input, when the check could work one out. */
const suggestion = (p: Problem): string => quoted(p.fix)[0];

describe('checkCron reads schedules as robfig/cron ParseStandard does (Argo CronWorkflow, Kubernetes CronJob)', () => {
  const cron = (v: string) => checkCron(v, site);

  test.each([
    '0 3 * * *', '*/15 0-6 1,15 * 1-5', '0 2 * * *', '0 9 * * MON-FRI', '0 9 * * mon-fri', '30 8 * * mon,wed,Fri', '0 0 1 JAN-MAR *',
    '0 0 1 jan,jul ?', '0 0 ? * SUN', '? * * * *', '5/15 * * * *', '0 8-18/2 * * *', '0 0 */2 * *', '0 0 29 2 *', '0 0 31 1,3 *',
    '59 23 31 12 6', '0 0 1 1 0', '0 3 * * 0-6', '0 0 * * SAT,SUN', '0 12 * DEC/1 *', '  0 3 * * *  ', '0\t3 * * *', '1,,2 * * * *',
    '@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly', '@every 1h30m', '@every 90s', '@every 1.5h',
  ])('accepts %j', (v) => expect(cron(v)).toBeUndefined());

  test.each<[string, RegExp, string | undefined]>([
    ['* * * * 7', /^has day of week 7, outside 0-6 \(SUN-SAT\): robfig\/cron, which Argo and Kubernetes use, has no 7 for Sunday$/, '* * * * 0'],
    ['0 3 * * 5-7', /day of week 7/, '0 3 * * 5-6,0'],
    ['0 3 * * 7-2', /day of week 7/, '0 3 * * 0-2'],
    ['60 3 * * *', /^has the minute 60, outside 0-59$/, '0 3 * * *'],
    ['99 3 * * *', /^has the minute 99, outside 0-59$/, '0 3 * * *'],
    ['0 24 * * *', /^has the hour 24, outside 0-23$/, '0 0 * * *'],
    ['0 20-24 * * *', /^has the hour 24, outside 0-23$/, '0 20-23 * * *'],
    ['0 0 0 * *', /^has the day of month 0, outside 1-31$/, '0 0 1 * *'],
    ['0 0 32 * *', /^has the day of month 32, outside 1-31$/, '0 0 1 * *'],
    ['0 0 1 13 *', /^has the month 13, outside 1-12 \(JAN-DEC\)$/, '0 0 1 1 *'],
    ['*/0 * * * *', /^has the step 0 in the minute; a step must be at least 1$/, '* * * * *'],
    ['0 0-23/0 * * *', /step 0 in the hour/, '0 0-23 * * *'],
    ['*/90 * * * *', /^has "\*\/90" in the minute: the step 90 is wider than the range, so it only matches 0$/, '0 * * * *'],
    ['0 22-2 * * *', /^has the range 22-2 in the hour, which runs backwards$/, '0 22-23,0-2 * * *'],
    ['0 0 * * FRI-MON', /range FRI-MON in the day of week, which runs backwards/, '0 0 * * FRI-SAT,SUN-MON'],
    ['0 0 * * MONDAY', /^has the day of week "MONDAY", not a three-letter name$/, '0 0 * * MON'],
    ['0 0 1 January *', /month "January"/, '0 0 1 JAN *'],
    ['*-5 * * * *', /^has "\*-5" in the minute; robfig\/cron reads it as "\*" and ignores the rest$/, '0-5 * * * *'],
    ['0 0 3 * * ?', /^is not a cron expression with five fields \(it has 6\)$/, '0 3 * * ?'],
    ['0 0 3 ? * MON 2030', /with five fields \(it has 7\)/, '0 3 ? * MON'],
    ['0 3 * * * 2030', /with five fields \(it has 6\)/, '0 3 * * *'],
    ['@DAILY', /^is a descriptor in the wrong case/, '@daily'],
    ['@daily ', /^has spaces around a descriptor/, '@daily'],
    [' @hourly', /^has spaces around a descriptor/, '@hourly'],
    ['@every 500ms', /^has an @every interval under one second/, '@every 1s'],
    ['@every 1500ms', /^has an @every interval with a fraction of a second/, '@every 2s'],
    ['@every 1d', /^has an @every interval "1d" that is not a Go duration/, '@every 24h'],
    ['@every -5m', /^has an @every interval that is not a positive duration$/, '@every 5m'],
    ['@every1h', /^is not written "@every <duration>"$/, '@every 1h'],
    ['CRON_TZ=Europe/Berlin 0 3 * * *', /^sets a time zone inside the schedule/, '0 3 * * *'],
    ['TZ=UTC @daily', /^sets a time zone inside the schedule/, '@daily'],
  ])('fails when the schedule is %j, and suggests a fix that passes', (value, message, fixed) => {
    const p = expectProblem(cron(value), value, cron);
    expect(p.message).toMatch(message);
    expect(suggestion(p)).toBe(fixed);
  });

  test.each<[string, RegExp]>([
    ['every night', /^is not a cron expression with five fields \(it has 2\)$/],
    ['0 3 * *', /with five fields \(it has 4\)/],
    ['0 0 * * MOM', /^has "MOM" in the day of week, which is not a number or a name SUN-SAT$/],
    ['0 MON * * *', /^has "MON" in the hour, which is not a number$/],
    ['0 0 L * *', /^uses "L" in the day of month, Quartz syntax \(L, W, #\) that robfig\/cron does not read$/],
    ['0 0 15W * *', /Quartz syntax/],
    ['0 0 * * 5#3', /Quartz syntax/],
    ['1-2-3 * * * *', /^has "1-2-3" in the minute, with more than one "-"$/],
    ['*/5/2 * * * *', /^has "\*\/5\/2" in the minute, with more than one "\/"$/],
    ['*/a * * * *', /^has the step "a" in the minute, which is not a number$/],
    ['-1 * * * *', /in the minute, which is not a number/],
    [', * * * *', /^has no value in the minute$/],
    ['0 0 30 2 *', /^never runs: no chosen month has day 30$/],
    ['0 0 31 4,6,9,11 *', /^never runs/],
    ['@reboot', /^is not a descriptor robfig\/cron knows/],
    ['@every', /^has no interval after @every$/],
    ['@every 0s', /not a positive duration/],
    ['@daily * * * *', /not a descriptor/],
  ])('fails when the schedule is %j, with the examples as the fix', (value, message) => {
    const p = expectProblem(cron(value), value, cron);
    expect(p.message).toMatch(message);
  });

  test.each<[unknown, string]>([
    ['', 'is empty'], ['   ', 'is empty'], [undefined, 'is missing'], [null, 'is missing'], [42, 'is not a string'],
    [{ cron: '0 3 * * *' }, 'is not a string'], [['0 3 * * *'], 'is not a string'],
  ])('fails with a problem, never a TypeError, when JavaScript passes %j', (value, message) => {
    const p = expectProblem(checkCron(value, site), value, cron);
    expect(p.message).toBe(message);
  });

  test('names the field and the value in the rendered problem', () => {
    expect(formatProblem(checkCron('* * * * 7', site)!)).toBe(
      'sandbox/train/nightly: cron = "* * * * 7": has day of week 7, outside 0-6 (SUN-SAT): robfig/cron, which Argo and Kubernetes use, '
      + 'has no 7 for Sunday. Fix: use 0 for Sunday: "* * * * 0"',
    );
  });
});

describe('durations are read as Go time.ParseDuration reads them', () => {
  const duration = (v: string) => checkDuration(v, site);

  test.each<[string, number]>([
    ['1.5h', 5400], ['1h30m', 5400], ['90s', 90], ['2h45m30s', 9930], ['30m', 1800], ['24h', 86400], ['168h', 604800], ['3000ms', 3],
    ['.5h', 1800], ['1.h', 3600], ['1h1h', 7200], ['1m30s', 90], ['2562047h', 2562047 * 3600],
  ])('accepts %j as %d seconds', (text, seconds) => {
    expect(duration(text)).toBeUndefined();
    expect(parseDuration(text)).toBe(seconds);
  });

  test('parseGoDuration gives signed nanoseconds for everything Go accepts, units ns us µs μs ms s m h', () => {
    expect(parseGoDuration('300ms')).toBe(300_000_000n);
    expect(parseGoDuration('2h45m30.5s')).toBe((2n * 3600n + 45n * 60n + 30n) * 1_000_000_000n + 500_000_000n);
    expect(parseGoDuration('-1.5h')).toBe(-5400n * 1_000_000_000n);
    expect(parseGoDuration('+5m')).toBe(300n * 1_000_000_000n);
    for (const u of ['1us', '1\u00b5s', '1\u03bcs']) expect(parseGoDuration(u)).toBe(1000n);
    expect(parseGoDuration('7ns')).toBe(7n);
    expect(parseGoDuration('0')).toBe(0n);
    expect(parseGoDuration('9223372036854775807ns')).toBe(2n ** 63n - 1n);
    expect(parseGoDuration('-9223372036854775808ns')).toBe(-(2n ** 63n));
    for (const bad of ['9223372036854775808ns', '1d', '', ' 1h', '1h ', '1', '1e3s', '.', '+', '-', 'h', '1H', 90, null, undefined]) {
      expect([bad, parseGoDuration(bad)]).toEqual([bad, undefined]);
    }
  });

  test('parseDuration returns whole positive seconds only, for integer Kubernetes fields', () => {
    for (const bad of ['300ms', '1500ms', '2h45m30.5s', '-5m', '0', '0s', '1d', '', 90, null, undefined, {}]) {
      expect([bad, parseDuration(bad)]).toEqual([bad, undefined]);
    }
  });

  test.each<[string, RegExp, string | undefined]>([
    ['300ms', /^is under one second, but the field it sets counts whole seconds$/, '1s'],
    ['1500ms', /^is not a whole number of seconds, which the field it sets counts$/, '2s'],
    ['2h45m30.5s', /whole number of seconds/, '2h45m31s'],
    ['0.5s', /under one second/, '1s'],
    ['-5m', /^is negative, but it must be a positive duration$/, '5m'],
    ['+5m', /^has a sign, but it must be a plain positive duration$/, '5m'],
    ['1d', /^is not a Go duration: "d" is not a unit \(use ns, us, ms, s, m or h\)$/, '24h'],
    ['2w', /"w" is not a unit/, '336h'],
    ['2 hours', /" hours" is not a unit/, '2h'],
    ['1hr', /"hr" is not a unit/, '1h'],
    ['90', /^is not a Go duration: "90" has no unit$/, '1m30s'],
    ['1H', /"H" is not a unit/, '1h'],
    [' 30m', /does not start with a number/, '30m'],
  ])('fails when the duration is %j, and suggests a fix that passes', (value, message, fixed) => {
    const p = expectProblem(duration(value), value, duration);
    expect(p.message).toMatch(message);
    expect(suggestion(p)).toBe(fixed);
  });

  test.each<[string, RegExp]>([
    ['0', /^is zero, but it must be a positive duration$/], ['0s', /is zero/], ['-0', /is zero/], ['', /^is empty$/],
    ['1M', /"M" is not a unit/], ['abc', /does not start with a number/], ['.', /does not start with a number/],
    ['3000000h', /longer than Go allows/], ['1e3s', /"e" is not a unit/],
  ])('fails when the duration is %j, with the examples as the fix', (value, message) => {
    expect(expectProblem(duration(value), value, duration).message).toMatch(message);
  });

  test.each<[unknown, RegExp, string]>([
    [undefined, /^is missing$/, '90s'], [null, /^is missing$/, '90s'], [90, /^is a number, but a duration is a string with a unit$/, '1m30s'],
    [1.5, /is a number/, '2s'], [NaN, /is a number/, '90s'], [{}, /^is not a duration string$/, '90s'], [['1h'], /is not a duration string/, '90s'],
  ])('fails with a problem, never a TypeError, when JavaScript passes %j', (value, message, fixed) => {
    const p = expectProblem(checkDuration(value, site), value, duration);
    expect(p.message).toMatch(message);
    expect(suggestion(p)).toBe(fixed);
  });

  test('with wholeSeconds: false (fields Argo reads as Go durations), sub-second and fractional values pass', () => {
    const options: DurationCheckOptions = { wholeSeconds: false };
    const loose = (v: string) => checkDuration(v, site, options);
    for (const ok of ['300ms', '1500ms', '2h45m30.5s', '1us', '90s']) expect([ok, loose(ok)]).toEqual([ok, undefined]);
    expect(suggestion(expectProblem(loose('-500ms'), '-500ms', loose))).toBe('500ms');
    expect(suggestion(expectProblem(loose('1 ms'), '1 ms', loose))).toBe('1ms');
    expect(expectProblem(loose('0s'), '0s', loose).message).toMatch(/is zero/);
  });

  test('formatDuration writes whole seconds as Go prints them, without zero parts', () => {
    expect([5400, 90, 2, 3600, 604800, 9931, 0].map(formatDuration)).toEqual(['1h30m', '1m30s', '2s', '1h', '168h', '2h45m31s', '0s']);
  });
});

describe('quantities are checked for the kind of resource they measure', () => {
  const check = (kind: QuantityKind) => (v: string) => Quantity.check(v, kind, site);
  const cpu = check(QuantityKind.CPU);
  const bytes = check(QuantityKind.BYTES);
  const gpu = check(QuantityKind.GPU);

  test.each(['100m', '0.5', '2', '1500m', '1', '16', '1024', '1m', '250m', '0.1'])('accepts the CPU %j', (v) => expect(cpu(v)).toBeUndefined());
  test.each(['512Mi', '10Gi', '1G', '1.5Gi', '1048576', '500M', '64Gi', '1e9', '128974848'])('accepts the size %j', (v) => expect(bytes(v)).toBeUndefined());

  test.each<[string, RegExp, string | undefined]>([
    ['1Gi', /^has the binary suffix "Gi", which counts bytes, but CPU is counted in cores or millicores$/, '250m'],
    ['512Mi', /binary suffix "Mi"/, '250m'],
    ['250M', /^has the suffix "M", which multiplies \(it asks for 250000000 cores\)/, '250m'],
    ['2G', /suffix "G", which multiplies \(it asks for 2000000000 cores\)/, '250m'],
    ['1k', /suffix "k"/, '250m'],
    ['2000', /^asks for 2000 cores, more than any node has \(at most 1024\)$/, '2000m'],
    ['1025', /more than any node has/, '1025m'],
    ['1e4', /asks for 10000 cores/, '250m'],
    ['500u', /^is below 1m, the smallest CPU amount Kubernetes can give$/, '1m'],
    ['0', /^must be greater than zero$/, '250m'],
    ['-1', /^must be greater than zero$/, '250m'],
    ['two', /^is not a Kubernetes quantity$/, '250m'],
    ['', /^is not a Kubernetes quantity$/, '250m'],
    ['500 m', /^is not a Kubernetes quantity$/, '500m'],
    ['2 cores', /^is not a Kubernetes quantity$/, '2'],
    [' 1', /^has spaces around it$/, '1'],
  ])('fails when a CPU is %j, and the fix passes the CPU check', (value, message, fixed) => {
    const p = expectProblem(cpu(value), value, cpu);
    expect(p.message).toMatch(message);
    expect(suggestion(p)).toBe(fixed);
  });

  test('names the memory field in the fix of a CPU that looks like a memory size', () => {
    expect(cpu('1Gi')!.fix).toBe('a memory size belongs in the memory field; write it like "250m" or "1"');
    expect(cpu('250M')!.fix).toBe('a memory size belongs in the memory field; for millicores write a lower-case m: "250m"');
  });

  test.each<[string, RegExp, string | undefined]>([
    ['250m', /^is 0.25 bytes: a "m" suffix means milli, not mega$/, '250Mi'],
    ['512m', /milli, not mega/, '512Mi'],
    ['1500m', /^is 1.5 bytes: a "m" suffix means milli, not mega$/, '1500Mi'],
    ['512', /^is only 512 bytes \(a quantity without a suffix counts bytes\)$/, '512Mi'],
    ['1e3', /only 1000 bytes/, '512Mi'],
    ['10 GB', /^is not a Kubernetes quantity$/, '10Gi'],
    ['1GiB', /not a Kubernetes quantity/, '1Gi'],
    ['512MB', /not a Kubernetes quantity/, '512Mi'],
    ['lots', /not a Kubernetes quantity/, '512Mi'],
    ['-1Gi', /^must be greater than zero$/, '512Mi'],
  ])('fails when a size is %j, and the fix passes the size check', (value, message, fixed) => {
    const p = expectProblem(bytes(value), value, bytes);
    expect(p.message).toMatch(message);
    expect(suggestion(p)).toBe(fixed);
  });

  test('keeps "Mi or M" in the fix of a milli-byte size', () => expect(bytes('512m')!.fix).toBe('use Mi or M for megabytes: "512Mi"'));

  test.each<[unknown, QuantityKind, RegExp, string]>([
    [1, QuantityKind.CPU, /^is a number, but a quantity here is a string like "250m" or "1"$/, '1'],
    [2.5, QuantityKind.CPU, /is a number/, '2.5'],
    [NaN, QuantityKind.CPU, /is a number/, '250m'],
    [512, QuantityKind.BYTES, /^is a number, but a quantity here is a string like "512Mi" or "10Gi"$/, '512Mi'],
    [null, QuantityKind.CPU, /^is missing$/, '250m'],
    [undefined, QuantityKind.BYTES, /^is missing$/, '512Mi'],
    [{}, QuantityKind.CPU, /^is not a string like "250m" or "1"$/, '250m'],
    [['1'], QuantityKind.BYTES, /is not a string/, '512Mi'],
    [true, QuantityKind.CPU, /is not a string/, '250m'],
  ])('fails with a problem, never a TypeError, when JavaScript passes %j', (value, kind, message, fixed) => {
    const p = expectProblem(Quantity.check(value, kind, site), value, check(kind));
    expect(p.message).toMatch(message);
    expect(suggestion(p)).toBe(fixed);
    expect(Quantity.tryParse(value)).toBeUndefined();
  });

  test('GPU counts are whole positive numbers, as a string or a number', () => {
    for (const ok of ['1', '2', '8', 1, 4]) expect([ok, Quantity.check(ok, QuantityKind.GPU, site)]).toEqual([ok, undefined]);
    const cases: Array<[unknown, RegExp, string]> = [
      ['0.5', /^is not a whole number of GPUs$/, '1'], [1.5, /not a whole number of GPUs/, '2'], ['1000m', /^is not written as a plain whole number$/, '1'],
      ['1.0', /plain whole number/, '1'], [0, /^is not a whole number of GPUs of at least 1$/, '1'], [-1, /at least 1/, '1'],
      ['x', /at least 1/, '1'], [null, /^is missing$/, '1'], [{}, /at least 1/, '1'],
    ];
    for (const [value, message, fixed] of cases) {
      const p = expectProblem(Quantity.check(value, QuantityKind.GPU, site), value, gpu);
      expect([value, p.message]).toEqual([value, expect.stringMatching(message)]);
      expect([value, suggestion(p)]).toEqual([value, fixed]);
    }
  });
});

describe('checkResources', () => {
  function problemsOf(r: unknown): readonly Problem[] {
    const problems = new Problems();
    checkResources(problems, r as ContainerResources, 'sandbox/platform/mlflow', 'resources');
    try {
      problems.throwIfAny();
      return [];
    } catch (e) {
      return (e as Cd4mlValidationError).problems;
    }
  }

  test('accepts sensible requests and limits', () => {
    expect(problemsOf({ cpu: '250m', memory: '512Mi', memoryLimit: '1Gi' })).toEqual([]);
    expect(problemsOf({ cpu: '1', memory: '1Gi', memoryLimit: '1Gi', cpuLimit: '2' })).toEqual([]);
  });

  test('fails when units are of the wrong kind, reporting every field together', () => {
    const found = problemsOf({ cpu: '1Gi', memory: '250m', memoryLimit: '512', cpuLimit: '2G' });
    expect(found.map((p) => [p.field, p.value])).toEqual([
      ['resources.cpu', '1Gi'], ['resources.memory', '250m'], ['resources.memoryLimit', '512'], ['resources.cpuLimit', '2G'],
    ]);
  });

  test('fails when a limit is below its request, with the request as the fix', () => {
    const [memory] = problemsOf({ cpu: '250m', memory: '1Gi', memoryLimit: '512Mi' });
    expect(memory).toMatchObject({ field: 'resources.memoryLimit', value: '512Mi', message: 'is below the memory request 1Gi', fix: 'raise the limit to at least the request: "1Gi"' });
    const [cpu] = problemsOf({ cpu: '2', memory: '1Gi', memoryLimit: '1Gi', cpuLimit: '500m' });
    expect(cpu).toMatchObject({ field: 'resources.cpuLimit', value: '500m', message: 'is below the CPU request 2', fix: 'raise the limit to at least the request: "2"' });
  });

  test.each([null, undefined, 'small', 42, ['250m']])('fails with a problem, never a TypeError, when JavaScript passes %j', (r) => {
    const found = problemsOf(r);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ field: 'resources', value: r, message: 'is not an object with cpu, memory and memoryLimit' });
    expect(quoted(found[0].fix)).toEqual(['250m', '512Mi', '1Gi']);
  });

  test('fails when JavaScript leaves out a field or passes a number', () => {
    const found = problemsOf({ cpu: 1, memoryLimit: '1Gi' });
    expect(found.map((p) => [p.field, p.message])).toEqual([
      ['resources.cpu', 'is a number, but a quantity here is a string like "250m" or "1"'],
      ['resources.memory', 'is missing'],
    ]);
  });
});
