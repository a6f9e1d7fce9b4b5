/**
 * The seed model in TensorFlow.js 4.22 on its WebAssembly backend, in Node
 * (one thread: tfjs-backend-wasm runs single-threaded outside a browser).
 * Run by bench/run.ts (peers). A full epoch takes over a minute, so it
 * trains BENCH_TFJS_STEPS batches of 128 (default 300), times steps after
 * the first 20, and reports seconds per epoch as the median step × 469;
 * its test accuracy is after those steps only. Prints one JSON line.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { mnist } from '../../src/index.js';

const steps = Number(process.env.BENCH_TFJS_STEPS ?? 300);
await tf.setBackend('wasm');
const [[images, labels], [testImages, testLabels]] = await mnist.loadData();
const n = steps * 128;
const x = tf.tensor2d(images.slice(0, n).reshape([n, 784]).asType('float32').div(255).data, [n, 784]);
const y = tf.tensor1d(Float32Array.from(labels.slice(0, n).data), 'float32');

const model = tf.sequential({
  layers: [tf.layers.dense({ units: 512, activation: 'relu', inputShape: [784] }), tf.layers.dense({ units: 10, activation: 'softmax' })],
});
model.compile({ optimizer: tf.train.rmsprop(0.001, 0.9, 0, 1e-7), loss: 'sparseCategoricalCrossentropy' });
const marks: number[] = [];
await model.fit(x, y, {
  epochs: 1,
  batchSize: 128,
  shuffle: false,
  verbose: 0,
  callbacks: { onBatchEnd: async () => void marks.push(performance.now()) },
});
const stepMs = marks
  .slice(20)
  .map((t, i) => t - marks[19 + i]!)
  .sort((a, b) => a - b);
const medianStep = stepMs[stepMs.length >> 1]! / 1e3;

const xt = tf.tensor2d(testImages.reshape([10000, 784]).asType('float32').div(255).data, [10000, 784]);
const predicted = Array.from((model.predict(xt) as tf.Tensor).argMax(1).dataSync());
const truth = testLabels.data;
const accuracy = predicted.filter((p, i) => p === truth[i]).length / 10000;
console.log(
  JSON.stringify({
    peer: `TensorFlow.js ${tf.version.tfjs} wasm`,
    threads: 1,
    steps,
    medianEpochSeconds: medianStep * 469,
    testAccuracy: accuracy,
    note: `test accuracy after ${steps} steps`,
  }),
);
