/**
 * npm run test:interop: what ferro-nn saves, opened by real Keras 3.
 * Creates (once) a Python virtual environment with keras, h5py, numpy and
 * jax from PyPI under the system's temporary directory (Keras 3.15's numpy
 * backend imports jax too, so the CPU jax backend it is), saves a model of every
 * layer kind and a weights file with ferro-nn, and runs
 * test/interop/keras_check.py on them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Activation,
  Adam,
  BatchNormalization,
  Dense,
  Dropout,
  loadModel,
  losses,
  optimizers,
  regularizers,
  Sequential,
  setRandomSeed,
  SGD,
  type Tensor,
} from '../src/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const venv = join(tmpdir(), 'ferro-nn-interop-venv');
const python = join(venv, 'bin', 'python');
if (!existsSync(python)) {
  console.log(`test:interop: creating ${venv} (keras, h5py, numpy, jax from PyPI)`);
  execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(python, ['-m', 'pip', 'install', '--quiet', 'keras==3.15.1', 'h5py', 'numpy', 'jax[cpu]'], { stdio: 'inherit' });
}

const dir = mkdtempSync(join(tmpdir(), 'ferro-interop-'));
const x = Array.from({ length: 12 }, (_, i) => [Math.sin(i), Math.cos(i * 0.7), i / 12, 1 - i / 12]);
const y = x.map((_, i) => i % 3);
const cases: Record<string, unknown>[] = [];

setRandomSeed(21);
const full = new Sequential([
  new Dense(8, { activation: 'gelu', inputShape: [4], kernelRegularizer: regularizers.l1l2({ l1: 0.001, l2: 0.01 }) }),
  new Dropout(0.3, { seed: 4 }),
  new BatchNormalization({ momentum: 0.8, scale: false }),
  new Activation('silu'),
  new Dense(6, { activation: 'elu', kernelInitializer: 'he_normal' }),
  new Dense(3, { activation: 'softmax' }),
]);
const schedule = new optimizers.schedules.ExponentialDecay({ initialLearningRate: 0.01, decaySteps: 5, decayRate: 0.9 });
full.compile({
  optimizer: new Adam({ learningRate: schedule, amsgrad: true, clipnorm: 1 }),
  loss: new losses.SparseCategoricalCrossentropy(),
  metrics: ['accuracy'],
});
await full.fit(x, y, { epochs: 5, batchSize: 4, verbose: 0 });
await full.save(join(dir, 'full.keras'));
cases.push({
  name: 'every layer kind, trained, compiled with Adam on a schedule and a loss object',
  keras: 'full.keras',
  // Keras re-saves it with npz weights, which ferro-nn then loads (below).
  npz: 'full-npz.keras',
  x,
  predict: (await full.predict(x)).toArray(),
  compiled: {
    optimizer: 'Adam',
    amsgrad: true,
    clipnorm: 1,
    schedule: 'ExponentialDecay',
    loss: 'SparseCategoricalCrossentropy',
    iterations: full.optimizerIterations,
  },
});

const regression = new Sequential([new Dense(5, { activation: 'tanh', inputShape: [4] }), new Dense(1)]);
regression.compile({ optimizer: new SGD({ learningRate: 0.05, momentum: 0.9 }), loss: 'mse', metrics: ['mae'] });
await regression.fit(x, y.map((v) => [v]), { epochs: 3, verbose: 0 });
await regression.save(join(dir, 'regression.keras'));
cases.push({
  name: 'regression, SGD with momentum',
  keras: 'regression.keras',
  x,
  predict: (await regression.predict(x)).toArray(),
  compiled: { optimizer: 'SGD', momentum: 0.9, loss: 'mse', iterations: regression.optimizerIterations },
});

// Keras refuses an int for SGD's momentum and a constant learning_rate, and
// JSON writes 0 and 1 as ints: plain 'sgd' (momentum 0) at rate 1.
const plainSgd = new Sequential([new Dense(1, { inputShape: [4] })]);
plainSgd.compile({ optimizer: new SGD({ learningRate: 1 }), loss: 'mse' });
plainSgd.build([null, 4]);
await plainSgd.save(join(dir, 'plain-sgd.keras'));
cases.push({
  name: 'SGD without momentum at learning rate 1 (floats Keras checks)',
  keras: 'plain-sgd.keras',
  x,
  predict: (await plainSgd.predict(x)).toArray(),
  compiled: { optimizer: 'SGD', momentum: 0, learning_rate: 1, loss: 'mse' },
});

// Keras computes CosineDecay in the dtype of its initial rate: written as the
// int 0, the warmup would stay at 0. Piecewise values are floats as well.
for (const [what, schedule] of [
  ['CosineDecay warming up from 0', new optimizers.schedules.CosineDecay({ initialLearningRate: 0, decaySteps: 10, warmupTarget: 0.01, warmupSteps: 4 })],
  ['PiecewiseConstantDecay from 1 to 0.25', new optimizers.schedules.PiecewiseConstantDecay([2], [1, 0.25])],
] as const) {
  const m = new Sequential([new Dense(1, { inputShape: [4] })]);
  m.compile({ optimizer: new SGD({ learningRate: schedule }), loss: 'mse' });
  await m.fit(x, y.map((v) => [v / 4]), { epochs: 1, batchSize: 4, verbose: 0 });
  const file = `${schedule.constructor.name}.keras`;
  await m.save(join(dir, file));
  cases.push({
    name: `${what}: Keras's rate after 3 steps is ferro-nn's`,
    keras: file,
    x,
    predict: (await m.predict(x)).toArray(),
    compiled: { iterations: 3 },
    rate: m.learningRate,
  });
}

// Names only ferro-nn and TF.js spell this way: Keras loads a file with
// them but fails at its first evaluate unless they are written as its get() resolves them.
// The layer takes the InputLayer's usual name, which the saved InputLayer must then avoid.
const aliases = new Sequential([new Dense(3, { activation: 'softmax', inputShape: [4], name: 'input_layer' })]);
aliases.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['acc'] });
await aliases.fit(x, y, { epochs: 1, verbose: 0 });
await aliases.save(join(dir, 'aliases.keras'));
const huber = new Sequential([new Dense(1, { inputShape: [4] })]);
huber.compile({ optimizer: 'adam', loss: 'huber_loss', metrics: ['rmse'] });
huber.build([null, 4]);
await huber.save(join(dir, 'huber.keras'));
for (const [file, model, targets, loss, metric, compiled] of [
  ['aliases.keras', aliases, y, 'sparse_categorical_crossentropy', 'acc', "'sparseCategoricalCrossentropy' and metric 'acc', a layer named input_layer"],
  ['huber.keras', huber, y.map((v) => [v]), 'huber', 'rmse', "'huber_loss' and metric 'rmse'"],
] as const) {
  cases.push({
    name: `compiled with ${compiled}: Keras evaluates it`,
    keras: file,
    x,
    predict: (await model.predict(x)).toArray(),
    compiled: { loss },
    // Keras logs the metric under ferro-nn's name.
    evaluate: { y: targets, loss: (await model.evaluate(x, targets)).loss, metric },
  });
}

// mixed_bfloat16: Keras reads the policy and computes in bfloat16 too (its
// own way), so predictions agree to bfloat16's precision only.
const mixed = new Sequential([new Dense(16, { activation: 'relu', inputShape: [4] }), new Dense(3, { activation: 'softmax' })], {
  dtypePolicy: 'mixed_bfloat16',
});
mixed.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy' });
await mixed.fit(x, y, { epochs: 3, batchSize: 4, verbose: 0 });
await mixed.save(join(dir, 'mixed.keras'));
cases.push({
  name: 'mixed_bfloat16: the policy on every layer',
  keras: 'mixed.keras',
  x,
  predict: (await mixed.predict(x)).toArray(),
  policy: 'mixed_bfloat16',
  tolerance: 2e-2,
});

// Weights only: loaded into the architecture of an untrained copy.
const untrained = new Sequential([new Dense(5, { activation: 'tanh', inputShape: [4] }), new Dense(1)]);
untrained.build([null, 4]);
await untrained.save(join(dir, 'untrained.keras'));
await regression.saveWeights(join(dir, 'regression.weights.h5'));
cases.push({ name: 'saveWeights into the same architecture', keras: 'untrained.keras', weights: 'regression.weights.h5', x, predict: (await regression.predict(x)).toArray() });

// Training resumes in Keras where ferro-nn stopped: one more step on each
// side, from the saved optimizer state, gives the same weights (this checks
// the order of every optimizer's variables against Keras's own).
const resumeOptimizers = [
  () => new Adam({ learningRate: 0.01, amsgrad: true }),
  () => new optimizers.AdamW({ learningRate: 0.01 }),
  () => new optimizers.Nadam({ learningRate: 0.01 }),
  () => new optimizers.RMSprop({ learningRate: 0.01, momentum: 0.5, centered: true }),
  () => new SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
  () => new optimizers.Adagrad({ learningRate: 0.05 }),
];
for (const make of resumeOptimizers) {
  setRandomSeed(5);
  const model = new Sequential([
    new Dense(6, { activation: 'tanh', inputShape: [4] }),
    new BatchNormalization(),
    new Dense(3, { activation: 'softmax' }),
  ]);
  model.compile({ optimizer: make(), loss: 'sparse_categorical_crossentropy' });
  await model.fit(x, y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
  const file = `resume-${make().className}.keras`;
  await model.save(join(dir, file));
  await model.trainOnBatch(x, y);
  cases.push({
    name: `${make().className} resumes in Keras: one more step matches ferro-nn's`,
    keras: file,
    x,
    predict: (await model.predict(x)).toArray(),
    train_on_batch: { y, weights: model.getWeights().map((w) => Array.from(w.data)) },
  });
}

writeFileSync(join(dir, 'cases.json'), JSON.stringify(cases));
const r = spawnSync(python, [join(root, 'test/interop/keras_check.py'), dir], {
  stdio: 'inherit',
  env: { ...process.env, KERAS_BACKEND: 'jax', PYTHONWARNINGS: 'ignore' },
});
if (r.status !== 0) process.exit(r.status ?? 1);

// Back the other way: what Keras saved with npz weights loads into ferro-nn.
let failed = 0;
for (const c of cases.filter((c) => c.npz)) {
  const model = await loadModel(join(dir, c.npz as string));
  const diff = maxAbsDiff(await model.predict(x), c.predict as number[][]);
  const ok = diff <= 1e-6 && model.optimizerIterations === (c.compiled as { iterations: number }).iterations;
  failed += Number(!ok);
  console.log(`${ok ? 'ok' : 'FAIL'}  ${c.name}, re-saved by Keras with npz weights, loaded by ferro-nn: max |ferro-nn - Keras| = ${diff.toExponential(2)}`);
}
process.exit(failed ? 1 : 0);

function maxAbsDiff(a: Tensor, b: number[][]): number {
  const flat = b.flat();
  return a.data.reduce((m, v, i) => Math.max(m, Math.abs(v - flat[i]!)), 0);
}
