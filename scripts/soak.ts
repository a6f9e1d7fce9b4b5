/**
 * npm run soak: repeated use must not leak. 300 fit/predict cycles on small
 * data, and 50 seed-sized models (784 → 512 → 10) created, trained a little
 * and dropped — half disposed, half left to the garbage collector. Prints the
 * RSS after warm-up and at the end, and fails if it grew by more than 5%.
 * Run with --expose-gc (the npm script does) so collections happen on cue.
 *
 * RSS measures what is live only if freed memory goes back to the OS.
 * glibc's malloc keeps freed blocks of a few MiB in its arenas once its
 * mmap threshold has grown past them, so that RSS wanders by ±50% from run
 * to run without any leak (a fixed threshold gives 80 MiB flat over 300
 * seed-sized models). The script therefore runs itself with the threshold
 * fixed (MALLOC_MMAP_THRESHOLD_), where a leak shows as growth.
 */
import { spawnSync } from 'node:child_process';
import { Dense, Sequential, Tensor, setRandomSeed } from '../src/index.js';

if (process.env.MALLOC_MMAP_THRESHOLD_ === undefined) {
  const args = [...process.execArgv, ...process.argv.slice(1)];
  const env = { ...process.env, MALLOC_MMAP_THRESHOLD_: String(128 * 1024) };
  process.exit(spawnSync(process.execPath, args, { env, stdio: 'inherit' }).status ?? 1);
}

const gc = (globalThis as { gc?: () => void }).gc;
const settle = async (): Promise<number> => {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 20));
  }
  return process.memoryUsage().rss / 2 ** 20;
};

const rows = 512;
const x = new Tensor(new Float32Array(rows * 32).map((_, i) => Math.sin(i * 0.37)), [rows, 32]);
const y = new Tensor(new Int32Array(rows).map((_, i) => i % 4), [rows]);
const big = new Tensor(new Float32Array(256 * 784).map((_, i) => (i % 255) / 255), [256, 784]);
const bigY = new Tensor(new Int32Array(256).map((_, i) => i % 10), [256]);
setRandomSeed(1);

async function smallCycle(): Promise<void> {
  const m = new Sequential([new Dense(64, { activation: 'relu' }), new Dense(4, { activation: 'softmax' })]);
  m.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' });
  await m.fit(x, y, { epochs: 2, batchSize: 32, verbose: 0 });
  await m.predict(x);
  m.dispose();
}

async function seedSizedModel(dispose: boolean): Promise<void> {
  const m = new Sequential([new Dense(512, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })]);
  m.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' });
  await m.fit(big, bigY, { epochs: 1, batchSize: 128, verbose: 0 });
  await m.predict(big);
  if (dispose) m.dispose();
}

for (let i = 0; i < 100; i++) await smallCycle();
for (let i = 0; i < 10; i++) await seedSizedModel(i % 2 === 0);
const warm = await settle();
console.log(`RSS after warm-up: ${warm.toFixed(1)} MiB`);

const cycles = Number(process.env.SOAK_CYCLES ?? 300);
const models = Number(process.env.SOAK_MODELS ?? 50);
for (let i = 0; i < cycles; i++) await smallCycle();
for (let i = 0; i < models; i++) await seedSizedModel(i % 2 === 0);
const end = await settle();
const growth = (end - warm) / warm;
console.log(`RSS at the end:    ${end.toFixed(1)} MiB (${(100 * growth).toFixed(1)}% growth; ${cycles} fit/predict cycles, ${models} seed-sized models)`);
if (!gc) console.log('(run with --expose-gc for dependable figures)');
if (growth > 0.05) {
  console.error('soak: RSS grew by more than 5% after warm-up: a leak?');
  process.exit(1);
}
