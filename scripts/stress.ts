/**
 * npm run stress: the long variants of test/execution.test.ts and
 * test/lifecycle.test.ts. Thousands of fits aborted or stopped at random
 * moments with predicts in flight; workers terminated mid-fit; child
 * processes that exit mid-fit; many concurrent fits awaiting evaluate on a
 * one-thread libuv pool. Every wait has a deadline: a hang fails the run
 * instead of stalling it. STRESS_SCALE=0.1 runs a tenth of everything.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AbortError, Dense, Sequential, setRandomSeed, Tensor } from '../src/index.js';

const scale = Number(process.env.STRESS_SCALE ?? 1);
const times = (n: number): number => Math.max(1, Math.round(n * scale));
const fixture = fileURLToPath(new URL('../test/fixtures/lifecycle.mts', import.meta.url));
const failures: string[] = [];

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (a hang)`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

function small(): { model: Sequential; x: Tensor<'float32'>; y: Tensor<'int32'> } {
  const model = new Sequential([new Dense(128, { activation: 'relu' }), new Dense(4, { activation: 'softmax' })]);
  model.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' });
  const x = new Tensor(new Float32Array(4000 * 64).map((_, i) => Math.sin(i * 0.1)), [4000, 64]);
  const y = new Tensor(new Int32Array(4000).map((_, i) => i % 4), [4000]);
  return { model, x, y };
}

async function section(name: string, run: () => Promise<string>): Promise<void> {
  const t0 = performance.now();
  try {
    const detail = await run();
    console.log(`  ok  ${name}: ${detail} (${((performance.now() - t0) / 1e3).toFixed(1)} s)`);
  } catch (error) {
    failures.push(name);
    console.log(`FAIL  ${name}: ${(error as Error).message}`);
  }
}

/** Fits aborted, stopped or left to finish at random, with predicts fired at the same model meanwhile. */
async function abortCycles(): Promise<string> {
  setRandomSeed(1);
  const { model, x, y } = small();
  const rss0 = process.memoryUsage().rss;
  const outcomes = { aborted: 0, stopped: 0, finished: 0, busy: 0 };
  for (let i = 0; i < times(2000); i++) {
    const controller = new AbortController();
    const mode = i % 3;
    const stopAt = Math.floor(Math.random() * 120);
    const onBatchEnd = mode === 1 ? (b: number): void => void (b === stopAt && (model.stopTraining = true)) : undefined;
    const fit = model.fit(x, y, {
      epochs: 1,
      batchSize: 32,
      verbose: 0,
      signal: controller.signal,
      ...(onBatchEnd ? { callbacks: { onBatchEnd } } : {}),
    });
    if (mode === 0) setTimeout(() => controller.abort(), Math.random() * 10);
    const predicts = Array.from({ length: 4 }, () => model.predict(x.slice(0, 8)).catch((e: { code?: string }) => e.code));
    try {
      await within(10_000, `fit ${i}`, fit);
      outcomes[mode === 1 ? 'stopped' : 'finished'] += 1;
    } catch (error) {
      if (!(error instanceof AbortError)) throw error;
      outcomes.aborted += 1;
    }
    outcomes.busy += (await within(10_000, `predicts ${i}`, Promise.all(predicts))).filter((r) => r === 'ERR_FERRO_BUSY').length;
    const out = await model.predict(x.slice(0, 2));
    if (!out.data.every(Number.isFinite)) throw new Error(`cycle ${i}: non-finite predictions`);
  }
  const growth = (process.memoryUsage().rss - rss0) / 2 ** 20;
  if (growth > 200) throw new Error(`RSS grew by ${growth.toFixed(0)} MiB`);
  return `${JSON.stringify(outcomes)}, RSS +${growth.toFixed(0)} MiB`;
}

/** Workers that fit, terminated at a random moment, several at once. */
async function terminateWorkers(): Promise<string> {
  const boot = new URL('../test/fixtures/worker-boot.mjs', import.meta.url);
  let slowest = 0;
  for (let i = 0; i < times(60); i++) {
    const workers = Array.from({ length: 4 }, (_, w) => {
      const kind = ['fit', 'predict', 'evaluate', 'fit'][w]!;
      return new Worker(boot, { workerData: { entry: pathToFileURL(fixture).href, kind } });
    });
    await within(30_000, `workers ${i} start`, Promise.all(workers.map((w) => new Promise((r) => w.once('message', r)))));
    await new Promise((r) => setTimeout(r, Math.random() * 100));
    const t0 = performance.now();
    await within(10_000, `terminate ${i}`, Promise.all(workers.map((w) => w.terminate())));
    slowest = Math.max(slowest, performance.now() - t0);
  }
  return `${times(60) * 4} workers, slowest terminate of four ${slowest.toFixed(0)} ms`;
}

function child(scenario: string, env: NodeJS.ProcessEnv = {}): Promise<number | null> {
  const c = spawn(process.execPath, ['--import', 'tsx', fixture, scenario], { stdio: 'ignore', env: { ...process.env, ...env } });
  const exited = new Promise<number | null>((resolve) => c.on('exit', resolve));
  return within(30_000, `child ${scenario}`, exited).catch((error: Error) => {
    c.kill('SIGKILL');
    throw error;
  });
}

/** Children that end mid-fit in every way the lifecycle tests cover, two at a time. */
async function exitingChildren(): Promise<string> {
  const scenarios: [string, number][] = [
    ['exit-main', 0],
    ['exit-epoch', 3],
    ['exit-batch', 4],
    ['uncaught', 1],
    ['unhandled', 1],
    ['exit-predict', 0],
    ['never-settles', 0],
  ];
  const rounds = times(15);
  for (let i = 0; i < rounds; i++) {
    for (let s = 0; s < scenarios.length; s += 2) {
      const batch = scenarios.slice(s, s + 2);
      const codes = await Promise.all(batch.map(([name]) => child(name)));
      batch.forEach(([name, want], j) => {
        if (codes[j] !== want) throw new Error(`${name} exited with ${codes[j]}, expected ${want}`);
      });
    }
  }
  return `${rounds * scenarios.length} children`;
}

async function sixteenFits(): Promise<string> {
  for (let i = 0; i < times(20); i++) {
    const code = await child('sixteen-fits', { UV_THREADPOOL_SIZE: i % 2 ? '1' : '4' });
    if (code !== 0) throw new Error(`round ${i} exited with ${code}`);
  }
  return `${times(20)} rounds of 16 fits`;
}

console.log(`npm run stress (scale ${scale})`);
await section('fits aborted, stopped and finished with predicts in flight', abortCycles);
await section('workers terminated mid-fit, mid-predict, mid-evaluate', terminateWorkers);
await section('processes ending mid-fit', exitingChildren);
await section('sixteen fits awaiting evaluate, libuv pool of 1 and 4', sixteenFits);
if (failures.length) {
  console.log(`stress: ${failures.length} section(s) failed: ${failures.join(', ')}`);
  process.exit(1);
}
console.log('stress: all sections passed');
