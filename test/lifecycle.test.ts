/**
 * Ending a program while native work runs: process.exit() from anywhere, a
 * signal handler, an uncaught exception, worker.terminate(), a callback that
 * never settles. Each scenario (test/fixtures/lifecycle.mts) runs in a child
 * process with a timeout, so a regression fails here instead of hanging.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/lifecycle.mts', import.meta.url));
const TIMEOUT_MS = 30_000;

interface Ended {
  status: number | null;
  stdout: string;
  stderr: string;
  /** From the scenario's `trigger` line to the child's exit. */
  afterTriggerMs: number;
}

function run(scenario: string, env: NodeJS.ProcessEnv = {}): Ended {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fixture, scenario], {
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    env: { ...process.env, ...env },
  });
  const ended = Date.now();
  if (r.error) throw new Error(`${scenario}: ${r.error.message} (a hang?)\n${r.stderr}`);
  const trigger = Number(/trigger (\d+)/.exec(r.stdout)?.[1]);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, afterTriggerMs: ended - trigger };
}

describe('the process or worker ends promptly while native work runs', () => {
  // "About a second": a batch here takes about a millisecond; the margin is
  // for a loaded CI machine. The old libuv-task design never ended at all.
  const PROMPT_MS = 3000;

  it.each([
    ['exit-main', 0],
    ['exit-epoch', 3],
    ['exit-batch', 4],
    ['exit-predict', 0],
    ['never-settles', 0],
  ])('%s: exits with code %i', (scenario, code) => {
    const r = run(scenario);
    expect(r.status, r.stderr).toBe(code);
    expect(r.afterTriggerMs).toBeLessThan(PROMPT_MS);
  });

  it.each([
    ['uncaught', /boom from a callback/],
    ['unhandled', /boom from onBatchEnd/],
  ])('%s exception in a callback: exits with code 1 and the error', (scenario, message) => {
    const r = run(scenario);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.afterTriggerMs).toBeLessThan(PROMPT_MS);
  });

  it.each(['terminate-fit', 'terminate-predict', 'terminate-evaluate'])('%s: worker.terminate() ends the worker', (scenario) => {
    const r = run(scenario);
    expect(r.status, r.stderr).toBe(0);
    const ms = Number(/terminated in (\d+) ms/.exec(r.stdout)?.[1]);
    expect(ms).toBeLessThan(PROMPT_MS);
  });

  it('process.exit() from a SIGINT handler during a fit', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, 'sigint'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      if (stdout.includes('ready')) child.kill('SIGINT');
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(killer);
    expect(code).toBe(130);
    expect(Date.now() - Number(/trigger (\d+)/.exec(stdout)?.[1])).toBeLessThan(PROMPT_MS);
  });
});

describe('fits never occupy Node’s thread pool', () => {
  it.each([{}, { UV_THREADPOOL_SIZE: '1' }])(
    'sixteen fits whose onEpochEnd awaits evaluate all finish, and fs stays fast (%o)',
    (env) => {
      const r = run('sixteen-fits', env);
      expect(r.status, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { evaluated: number[]; slowestReadMs: number };
      expect(result.evaluated).toEqual(Array(16).fill(3));
      // Before: 2.4-4.2 s while four fits held libuv's threads.
      expect(result.slowestReadMs).toBeLessThan(1000);
    },
  );
});
