import { ChildProcess, spawn, spawnSync } from 'child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';

// The real-servers tier's process handling: every process it starts is registered here and stopped at the end
// (also when a test fails or jest is interrupted); every wait is bounded and says what it waited for.

/** A server process the tier started, with its log. */
export interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
  /** The last lines of its log (for failure messages). */
  tail(lines?: number): string;
  /** Whether it has exited. */
  exited(): boolean;
}

const running: Started[] = [];
let hooked = false;

/**
 * A fresh scratch directory. Under /var/tmp by default, not /tmp: local pods mount their own /tmp, which would hide
 * their volumes' sources if those lived there.
 */
export function scratch(prefix: string): string {
  return mkdtempSync(join(process.env.CD4ML_TIER_TMP ?? (existsSync('/var/tmp') ? '/var/tmp' : tmpdir()), `cd4ml-${prefix}-`));
}

/** Starts `command` in the background; stdout and stderr go to `<logDir>/<name>.log`. */
export function start(name: string, command: string, args: readonly string[], o: { env?: NodeJS.ProcessEnv; cwd?: string; logDir: string }): Started {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => { for (const p of running) p.child.kill('SIGKILL'); });
  }
  const log = join(o.logDir, `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(command, [...args], { env: o.env ?? process.env, cwd: o.cwd, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  let done = false;
  child.once('exit', () => { done = true; });
  child.once('error', () => { done = true; });
  const started: Started = {
    name,
    child,
    log,
    exited: () => done,
    tail: (lines = 25) => { try { return readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n'); } catch { return '(no log)'; } },
  };
  running.push(started);
  return started;
}

/** Stops one process (its whole process group): SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(p: Started, graceMs = 5000): Promise<void> {
  const i = running.indexOf(p);
  if (i >= 0) running.splice(i, 1);
  if (p.exited() || p.child.pid === undefined) return;
  const kill = (sig: NodeJS.Signals) => { try { process.kill(-p.child.pid!, sig); } catch { /* gone */ } };
  kill('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (!p.exited() && Date.now() < deadline) await sleep(100);
  if (!p.exited()) kill('SIGKILL');
  const hard = Date.now() + 2000;
  while (!p.exited() && Date.now() < hard) await sleep(50);
}

/** Stops every process still running, newest first. */
export async function stopAll(): Promise<void> {
  for (const p of [...running].reverse()) await stop(p);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Polls `check` until it returns a value other than undefined, at most `timeoutMs`. On timeout the error names
 * what was awaited, the last error `check` threw, and the log tail of `proc` when given.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, o: { intervalMs?: number; proc?: Started } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      // A check marks an error `final` when waiting longer cannot help (the server refused for good).
      if ((e as { final?: boolean }).final) throw e;
      last = e;
    }
    if (o.proc?.exited()) throw new Error(`${what}: ${o.proc.name} exited\n${o.proc.tail()}`);
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `; last error: ${(last as Error).message ?? last}` : ''}${o.proc ? `\n--- ${o.proc.name} log ---\n${o.proc.tail()}` : ''}`);
    }
    await sleep(o.intervalMs ?? 250);
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a command to completion (bounded); throws with its output when it fails. */
export function run(command: string, args: readonly string[], o: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string; allowFail?: boolean } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(command, [...args], { env: o.env ?? process.env, input: o.input, cwd: o.cwd, encoding: 'utf8', timeout: o.timeoutMs ?? 120000, maxBuffer: 64 * 1024 * 1024 });
  const status = r.status ?? -1;
  if (status !== 0 && !o.allowFail) {
    throw new Error(`${command} ${args.join(' ')} exited ${status}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout}\n${r.stderr}`.trim());
  }
  return { status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
