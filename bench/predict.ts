/**
 * Inference latency and throughput of the seed model (784 → 512 relu → 10
 * softmax) through the public API, run in a fresh process by bench/run.ts:
 * one-row predict latency (each call awaited before the next), 64 one-row
 * predicts in flight at once, 64 clients calling in separate ticks, and a
 * batched predict of the MNIST test set.
 * The weights are random: speed does not depend on them. Prints one JSON line.
 */
import { Dense, getNumThreads, Sequential, setRandomSeed, Tensor } from '../src/index.js';

const ROUNDS = Number(process.env.PREDICT_ROUNDS ?? 5000);
setRandomSeed(1);
const model = new Sequential([new Dense(512, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })]);
model.build([null, 784]);

const row = new Tensor(Float32Array.from({ length: 784 }, (_, i) => (i % 255) / 255), [1, 784]);
const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

// One row at a time, awaited: what a request handler serving one user sees.
for (let i = 0; i < 500; i++) await model.predict(row);
const latencies: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const t0 = performance.now();
  await model.predict(row);
  latencies.push((performance.now() - t0) * 1e3);
}
latencies.sort((a, b) => a - b);

// 64 one-row requests in flight at once, as a server under load has them.
const CONCURRENT = 64;
const concurrentRounds = Math.max(20, ROUNDS / 50);
const t1 = performance.now();
for (let r = 0; r < concurrentRounds; r++) {
  await Promise.all(Array.from({ length: CONCURRENT }, () => model.predict(row)));
}
const concurrentRowsPerSecond = (CONCURRENT * concurrentRounds) / ((performance.now() - t1) / 1e3);

// 64 clients whose one-row requests come in separate ticks, each awaited,
// as a server's do: every call then runs on JavaScript's thread (nothing
// else of this thread is unreturned when it is made), unless
// FERRO_NN_PREDICT_ON_CALLER=0 sends them to the pool.
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const client = async (calls: number): Promise<void> => {
  for (let i = 0; i < calls; i++) {
    await tick();
    await model.predict(row);
  }
};
const clientCalls = Math.max(20, ROUNDS / 50);
const t2 = performance.now();
await Promise.all(Array.from({ length: CONCURRENT }, () => client(clientCalls)));
const clientRowsPerSecond = (CONCURRENT * clientCalls) / ((performance.now() - t2) / 1e3);

// A batch: 10 000 rows (the MNIST test set's size), batchSize 128.
const batch = new Tensor(new Float32Array(10000 * 784).map((_, i) => (i % 251) / 251), [10000, 784]);
await model.predict(batch, { batchSize: 128 });
const batchTimes: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  await model.predict(batch, { batchSize: 128 });
  batchTimes.push(performance.now() - t0);
}
batchTimes.sort((a, b) => a - b);

console.log(
  JSON.stringify({
    threads: getNumThreads(),
    oneRow: { calls: ROUNDS, p50Us: quantile(latencies, 0.5), p90Us: quantile(latencies, 0.9), p99Us: quantile(latencies, 0.99) },
    concurrent: { inFlight: CONCURRENT, rounds: concurrentRounds, rowsPerSecond: concurrentRowsPerSecond },
    clients: { clients: CONCURRENT, callsEach: clientCalls, rowsPerSecond: clientRowsPerSecond },
    batched: { rows: 10000, batchSize: 128, rowsPerSecond: 10000 / (batchTimes[2]! / 1e3) },
  }),
);
