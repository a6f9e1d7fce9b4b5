/**
 * One measurement of the seed model through the public API, run in a fresh
 * process per thread count by bench/run.ts: seconds per epoch (median of
 * epochs 2–5), samples/s, test accuracy and the process's peak RSS.
 * With BENCH_BATCH_HOOK=1 it adds an empty onBatchEnd, so that the run
 * measures what per-batch callbacks cost; BENCH_POLICY=mixed_bfloat16 runs
 * it under that dtype policy. Prints one JSON line.
 */
import { Dense, type DTypePolicyName, getNumThreads, kernelIsa, mnist, Sequential, setRandomSeed } from '../src/index.js';

const [[trainImages, trainLabels], [testImages, testLabels]] = await mnist.loadData();
const x = trainImages.reshape([60000, 28 * 28]).asType('float32').div(255);
const xTest = testImages.reshape([10000, 28 * 28]).asType('float32').div(255);

setRandomSeed(1);
const dtypePolicy = (process.env.BENCH_POLICY ?? 'float32') as DTypePolicyName;
const model = new Sequential([new Dense(512, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })], { dtypePolicy });
model.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });

const marks: number[] = [];
const batchHook = process.env.BENCH_BATCH_HOOK === '1';
await model.fit(x, trainLabels, {
  epochs: 5,
  batchSize: 128,
  verbose: 0,
  callbacks: {
    onEpochBegin: () => void marks.push(performance.now()),
    onEpochEnd: () => void marks.push(performance.now()),
    ...(batchHook ? { onBatchEnd: () => {} } : {}),
  },
});
const epochs = [0, 1, 2, 3, 4].map((e) => (marks[2 * e + 1]! - marks[2 * e]!) / 1e3);
const steady = epochs.slice(1).sort((a, b) => a - b);
const median = (steady[1]! + steady[2]!) / 2;
const { accuracy } = await model.evaluate(xTest, testLabels);
console.log(
  JSON.stringify({
    threads: getNumThreads(),
    isa: kernelIsa(),
    dtypePolicy,
    bfloat16: model.computesInBfloat16,
    batchHook,
    epochSeconds: epochs,
    medianEpochSeconds: median,
    samplesPerSecond: 60000 / median,
    testAccuracy: accuracy,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  }),
);
