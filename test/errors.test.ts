/**
 * Bad input gets a coded error, never a crash: each class of mistake the
 * public API can receive, native panics caught on every path, dispose.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  Activation,
  BackupAndRestore,
  BatchNormalization,
  CosineDecay,
  CSVLogger,
  Dense,
  Dropout,
  FerroBusyError,
  FerroError,
  FerroInternalError,
  FerroShapeError,
  FerroStateError,
  FerroTypeError,
  FerroValueError,
  layers,
  EarlyStopping,
  ExponentialDecay,
  LearningRateScheduler,
  loadData,
  losses,
  mixedPrecision,
  ModelCheckpoint,
  optimizers,
  PiecewiseConstantDecay,
  ReduceLROnPlateau,
  regularizers,
  RMSprop,
  SGD,
  Sequential,
  setNumThreads,
  setRandomSeed,
  Tensor,
} from '../src/index.js';
import { fromNative, nativeCall } from '../src/errors.js';
import { binding, type Metrics } from '../src/native.js';
import { blobs } from './helpers.js';

process.env.FERRO_NN_TEST_HOOKS = '1';

function compiled(units = 3): Sequential {
  const m = new Sequential([new Dense(8, { activation: 'relu' }), new Dense(units, { activation: 'softmax' })]);
  m.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' });
  return m;
}

/** Calls f and returns what it threw (or rejected with). */
async function failure(f: () => unknown): Promise<FerroError> {
  try {
    await f();
  } catch (error) {
    expect(error).toBeInstanceOf(FerroError);
    return error as FerroError;
  }
  throw new Error('expected a failure');
}

describe('coded errors for bad input', () => {
  it('sizes that are zero, negative, fractional, NaN or not numbers', async () => {
    for (const units of [0, -3, 2.5, Number.NaN, Infinity, 2 ** 31]) {
      const err = await failure(() => new Dense(units));
      expect(err.code).toBe('ERR_FERRO_VALUE');
      expect(err.message).toMatch(/^Expected a positive integer .*for units\. Received: units=/);
    }
    for (const units of ['8', null, undefined, {}, [4]]) {
      expect((await failure(() => new Dense(units as never))).code).toBe('ERR_FERRO_TYPE');
    }
    const { x, y } = blobs(20);
    const m = compiled();
    for (const o of [{ epochs: -1 }, { epochs: 1.5 }, { batchSize: 0 }, { batchSize: Number.NaN }, { validationSplit: 1 }, { validationSplit: -0.2 }]) {
      expect((await failure(() => m.fit(x, y, { ...o, verbose: 0 }))).code).toBe('ERR_FERRO_VALUE');
    }
    for (const o of [{ epochs: '2' }, { shuffle: 'yes' }, { verbose: 3 }, { callbacks: 5 }, { signal: {} }, { validationData: x }]) {
      expect((await failure(() => m.fit(x, y, o as never))).code).toBe('ERR_FERRO_TYPE');
    }
    expect((await failure(() => m.predict(x, { batchSize: -1 }))).code).toBe('ERR_FERRO_VALUE');
    expect((await failure(() => new Tensor(new Float32Array(4), [2, -2]))).code).toBe('ERR_FERRO_VALUE');
  });

  it('unknown activation, initializer, optimizer, loss and metric names', async () => {
    expect((await failure(() => new Dense(4, { activation: 'mish' as never }))).message).toBe(
      "Unknown activation: 'mish'. Expected one of: relu, softmax, sigmoid, tanh, linear, elu, selu, leaky_relu, softplus, softsign, relu6, hard_sigmoid, gelu, silu, swish",
    );
    expect((await failure(() => new Activation('mish' as never))).code).toBe('ERR_FERRO_VALUE');
    expect((await failure(() => new Dropout(1))).message).toBe('Expected a Dropout rate in [0, 1). Received: rate=1');
    expect((await failure(() => new Dropout(-0.1))).code).toBe('ERR_FERRO_VALUE');
    expect((await failure(() => new Dropout('0.5' as never))).code).toBe('ERR_FERRO_TYPE');
    expect((await failure(() => new BatchNormalization({ momentum: 1.5 }))).code).toBe('ERR_FERRO_VALUE');
    expect((await failure(() => new BatchNormalization({ epsilon: 0 }))).code).toBe('ERR_FERRO_VALUE');
    expect((await failure(() => new BatchNormalization({ center: 1 as never }))).code).toBe('ERR_FERRO_TYPE');
    expect((await failure(() => new Dense(4, { kernelInitializer: 'identity' as never }))).code).toBe('ERR_FERRO_VALUE');
    expect((await failure(() => new Dense(4, { biasInitializer: 'orthogonal' }))).code).toBe('ERR_FERRO_VALUE');
    const m = new Sequential([new layers.Dense(2)]);
    expect((await failure(() => m.compile({ optimizer: 'adamax' as never, loss: 'sparse_categorical_crossentropy' }))).code).toBe('ERR_FERRO_VALUE');
    expect((await failure(() => m.compile({ optimizer: 'rmsprop', loss: 'poisson' as never }))).code).toBe('ERR_FERRO_VALUE');
    expect((await failure(() => m.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy', metrics: ['auroc' as never] }))).code).toBe('ERR_FERRO_VALUE');
    expect((await failure(() => new RMSprop({ rho: 1.5 }))).code).toBe('ERR_FERRO_VALUE');
    expect((await failure(() => new RMSprop({ epsilon: 0 }))).code).toBe('ERR_FERRO_VALUE');
  });

  it('calls before compile or build, and on an empty model', async () => {
    const { x, y } = blobs(10);
    const m = new Sequential([new Dense(3, { activation: 'softmax' })]);
    expect(await failure(() => m.fit(x, y))).toBeInstanceOf(FerroStateError);
    expect(await failure(() => m.evaluate(x, y))).toBeInstanceOf(FerroStateError);
    expect(await failure(() => m.trainOnBatch(x, y))).toBeInstanceOf(FerroStateError);
    expect(await failure(() => m.setWeights([]))).toBeInstanceOf(FerroStateError);
    expect(await failure(() => new Dense(2).setWeights([]))).toBeInstanceOf(FerroStateError);
    const empty = new Sequential();
    expect(await failure(() => empty.predict(x))).toBeInstanceOf(FerroStateError);
    expect(await failure(() => empty.build([null, 4]))).toBeInstanceOf(FerroStateError);
    // predict needs no compile, as in Keras
    expect((await m.predict(x)).shape).toEqual([10, 3]);
  });

  it('x and y of different lengths, labels out of range, negative or fractional, empty data, wrong features', async () => {
    const m = compiled();
    const { x, y } = blobs(12);
    expect(await failure(() => m.fit(x, y.slice(0, 11)))).toBeInstanceOf(FerroShapeError);
    const labels = (values: number[]): Tensor => new Tensor(values, [values.length]);
    const bad = [[...Array(11).fill(0), 3], [...Array(11).fill(0), -1], [...Array(11).fill(0), 1.5]];
    for (const values of bad) {
      const err = await failure(() => m.fit(x, labels(values), { verbose: 0 }));
      expect(err.code).toBe('ERR_FERRO_VALUE');
      expect(err.message).toContain('y[11]=');
    }
    const none = new Tensor(new Float32Array(0), [0, 6]);
    expect((await failure(() => m.fit(none, new Tensor(new Int32Array(0)), { verbose: 0 }))).code).toBe('ERR_FERRO_VALUE');
    expect((await failure(() => m.predict(none))).code).toBe('ERR_FERRO_VALUE');
    expect((await failure(() => m.evaluate(new Tensor(new Float32Array(10), [2, 5]), labels([0, 1])))).code).toBe('ERR_FERRO_SHAPE');
    expect((await failure(() => m.fit(new Tensor(new Float32Array(12), [12]), y))).code).toBe('ERR_FERRO_SHAPE');
    expect((await failure(() => m.fit(x, new Tensor(new Float32Array(24), [12, 2])))).code).toBe('ERR_FERRO_SHAPE');
  });

  it('strings, null, undefined, plain objects and wrong typed arrays where tensors belong', async () => {
    const m = compiled();
    const { x, y } = blobs(4);
    for (const garbage of ['abc', null, undefined, {}, { data: [1] }, new Float64Array(4), new Int16Array(4), new Uint8ClampedArray(4), 42]) {
      expect((await failure(() => m.fit(garbage as never, y))).code).toBe('ERR_FERRO_TYPE');
      expect((await failure(() => m.predict(garbage as never))).code).toBe('ERR_FERRO_TYPE');
      expect((await failure(() => m.fit(x, garbage as never))).code).toBe('ERR_FERRO_TYPE');
      expect((await failure(() => new Tensor(garbage as never))).code).toBe('ERR_FERRO_TYPE');
    }
    expect((await failure(() => new Tensor([[1, 2], [3]]))).code).toBe('ERR_FERRO_SHAPE');
    expect((await failure(() => new Tensor([1, 'x'] as never))).code).toBe('ERR_FERRO_TYPE');
  });

  it('Tensor data that does not fit its shape, and impossible reshapes', async () => {
    expect(await failure(() => new Tensor(new Float32Array(5), [2, 3]))).toBeInstanceOf(FerroShapeError);
    const t = new Tensor(new Float32Array(6), [2, 3]);
    expect(await failure(() => t.reshape([4, -1]))).toBeInstanceOf(FerroShapeError);
    expect(await failure(() => t.reshape([-1, -1]))).toBeInstanceOf(FerroValueError);
    expect(await failure(() => t.reshape('6' as never))).toBeInstanceOf(FerroTypeError);
    expect(await failure(() => t.argMax(5))).toBeInstanceOf(FerroValueError);
  });

  it('setWeights with the wrong count or shapes', async () => {
    const m = compiled();
    m.build([null, 6]);
    const w = m.getWeights();
    expect(await failure(() => m.setWeights(w.slice(0, 3)))).toBeInstanceOf(FerroShapeError);
    expect(await failure(() => m.setWeights([w[1]!, w[0]!, w[2]!, w[3]!]))).toBeInstanceOf(FerroShapeError);
    expect(await failure(() => m.setWeights('weights' as never))).toBeInstanceOf(FerroTypeError);
    expect(await failure(() => m.setWeights([null as never, w[1]!, w[2]!, w[3]!]))).toBeInstanceOf(FerroTypeError);
  });

  it('setWeights with holes in the array: each hole is refused as undefined, naming weights[i]', async () => {
    const m = new Sequential([new Dense(3, { inputDim: 2 })]);
    const [kernel] = m.getWeights();
    const holeAt1 = [kernel!];
    holeAt1.length = 2;
    for (const [weights, i] of [[new Array(2), 0], [holeAt1, 1]] as const) {
      for (const set of [() => m.setWeights(weights), () => m.layers[0]!.setWeights(weights)]) {
        const err = await failure(set);
        expect(err.code).toBe('ERR_FERRO_TYPE');
        expect(err.message).toMatch(new RegExp(`^Expected a Tensor, .* for weights\\[${i}\\]\\. Received: undefined$`));
      }
    }
  });

  it('holes in the arrays of layers, metrics, callbacks and schedules are refused as undefined would be', async () => {
    const hole = <T>(items: T[], length: number): T[] => Object.assign([...items], { length });
    const { x, y } = blobs(8);
    const calls: [string, () => unknown, RegExp][] = [
      ['Sequential', () => new Sequential(hole([new Dense(2)], 2)), /^Expected a layer such as new Dense\(10\)\. Received: undefined$/],
      ['compile', () => new Sequential([new Dense(2)]).compile({ optimizer: 'sgd', loss: 'mse', metrics: hole(['accuracy' as const], 2) }), /Received: metric=undefined$/],
      ['fit', () => compiled().fit(x, y, { verbose: 0, callbacks: hole([{}], 2) }), /Received: callbacks\[1\]=undefined$/],
      ['boundaries', () => new PiecewiseConstantDecay(hole([1], 2), [0.1, 0.01, 0.001]), /Received: boundaries\[1\]=undefined$/],
      ['values', () => new PiecewiseConstantDecay([1, 2], hole([0.1], 3)), /Received: values\[1\]=undefined$/],
      ['inputShape', () => new Dense(2, { inputShape: hole([], 2) }), /Received: inputShape=\[undefined, undefined\]$/],
    ];
    for (const [name, call, message] of calls) {
      const err = await failure(call);
      expect(err.code, name).toBe(name === 'inputShape' ? 'ERR_FERRO_VALUE' : 'ERR_FERRO_TYPE');
      expect(err.message, name).toMatch(message);
    }
  });

  it('invalid thread counts and seeds', async () => {
    for (const n of [0, -1, 1.5, 1025, Number.NaN]) expect((await failure(() => setNumThreads(n))).code).toBe('ERR_FERRO_VALUE');
    expect((await failure(() => setNumThreads('2' as never))).code).toBe('ERR_FERRO_TYPE');
    for (const s of [-1, 0.5, 2 ** 60]) expect((await failure(() => setRandomSeed(s))).code).toBe('ERR_FERRO_VALUE');
  });

  it('integers past 2^53 - 1 are refused with the bound in the message', async () => {
    const bound = 'no larger than 2^53 - 1 (Number.MAX_SAFE_INTEGER)';
    expect((await failure(() => setRandomSeed(2 ** 53))).message).toBe(`Expected a non-negative integer ${bound} for seed. Received: seed=9007199254740992`);
    expect((await failure(() => new Tensor(new Float32Array(0), [2 ** 53, 0]))).message).toBe(
      `Expected a non-negative integer ${bound} for shape[0]. Received: shape[0]=9007199254740992`,
    );
    expect((await failure(() => new Tensor(new Float32Array(0)).reshape([0, 2 ** 53]))).message).toBe(
      `Expected an integer >= -1 ${bound} for shape[1]. Received: shape[1]=9007199254740992`,
    );
    expect(() => setRandomSeed(2 ** 53 - 1)).not.toThrow();
  });

  it('validationData whose x and y differ in samples names validationData[0] and validationData[1]', async () => {
    const { x, y } = blobs(12);
    const dense = new Sequential([new Dense(6)]);
    dense.compile({ optimizer: 'sgd', loss: 'mse' });
    // Class labels, and a target per output unit: each loss reads y its own way.
    for (const [m, targets] of [[compiled(), y], [dense, x]] as const) {
      const err = await failure(() => m.fit(x, targets, { verbose: 0, validationData: [x.slice(0, 4), targets.slice(0, 3)] }));
      expect(err.code).toBe('ERR_FERRO_SHAPE');
      expect(err.message).toBe(
        'Expected validationData[0] and validationData[1] to hold the same number of samples. Received: validationData[0] has 4, validationData[1] has 3',
      );
    }
  });

  it('layer sizes whose buffers cannot be allocated', async () => {
    // 2^31 - 1 units on 784 inputs: 6 TB of kernel, refused before any allocation.
    const m = new Sequential([new Dense(2 ** 31 - 1, { inputDim: 784 })]);
    const err = await failure(() => m.build([null, 784]));
    expect(err.code).toBe('ERR_FERRO_VALUE');
    expect(err.message).toMatch(/Cannot allocate .* for a Dense kernel/);
    // More than this machine has free, though the address space would allow it.
    const big = new Sequential([new Dense(2 ** 28, { inputDim: 64 })]);
    expect((await failure(() => big.build([null, 64]))).message).toMatch(/Cannot allocate/);
  });

  // In a child whose address space is capped, so that a buffer allocated
  // unchecked aborts it rather than filling this machine.
  it.each(['dense', 'batch-norm', 'batch-norm-without-params'])('a 4 GiB %s over a capped address space', (layer) => {
    const fixture = fileURLToPath(new URL('./fixtures/capped-build.mts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', fixture, layer], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ERR_FERRO_VALUE: Cannot allocate/);
  });

  it('a fit resumed at initialEpoch 1e9 starts at once: the epochs before it are not replayed', () => {
    const fixture = fileURLToPath(new URL('./fixtures/resume-far.mts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', fixture], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('trained 1000000000');
  });

  it('an option the call does not know is refused, as Keras refuses an unknown argument, naming the spelling it meant', async () => {
    const { x, y } = blobs(40);
    const bogus = { bogus: 1 } as never;
    const calls: Record<string, () => unknown> = {
      fit: () => compiled().fit(x, y, bogus),
      evaluate: () => compiled().evaluate(x, y, bogus),
      predict: () => compiled().predict(x, bogus),
      compile: () => compiled().compile({ optimizer: 'sgd', loss: 'mse', bogus } as never),
      Sequential: () => new Sequential([], bogus),
      Dense: () => new Dense(2, bogus),
      Dropout: () => new Dropout(0.5, bogus),
      BatchNormalization: () => new BatchNormalization(bogus),
      Activation: () => new Activation('relu', bogus),
      RMSprop: () => new RMSprop(bogus),
      Adam: () => new optimizers.Adam(bogus),
      AdamW: () => new optimizers.AdamW(bogus),
      SGD: () => new optimizers.SGD(bogus),
      Adagrad: () => new optimizers.Adagrad(bogus),
      Nadam: () => new optimizers.Nadam(bogus),
      ExponentialDecay: () => new optimizers.schedules.ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 1, decayRate: 0.5, ...(bogus as object) }),
      CosineDecay: () => new optimizers.schedules.CosineDecay({ initialLearningRate: 0.1, decaySteps: 1, ...(bogus as object) }),
      BinaryCrossentropy: () => new losses.BinaryCrossentropy(bogus),
      L1L2: () => regularizers.l1l2(bogus),
      EarlyStopping: () => new EarlyStopping(bogus),
      ReduceLROnPlateau: () => new ReduceLROnPlateau(bogus),
      ModelCheckpoint: () => new ModelCheckpoint({ filepath: 'x.keras', ...(bogus as object) }),
      BackupAndRestore: () => new BackupAndRestore({ backupDir: 'b', ...(bogus as object) }),
      CSVLogger: () => new CSVLogger('log.csv', bogus),
      loadData: () => loadData(bogus),
    };
    for (const [name, call] of Object.entries(calls)) {
      const err = await failure(call);
      expect(err.code, name).toBe('ERR_FERRO_VALUE');
      expect(err.message, name).toMatch(/^Expected options of .* among: .*\. Received: 'bogus'$/);
    }
    expect((await failure(() => new optimizers.AdamW(bogus))).message).toMatch(/^Expected options of AdamW among/);
    // Keras's SparseCategoricalCrossentropy takes no label_smoothing.
    expect((await failure(() => new losses.SparseCategoricalCrossentropy({ labelSmoothing: 0.1 } as never))).code).toBe('ERR_FERRO_VALUE');
    // verbose, which Keras's and TF.js's predict and evaluate take, ports as written.
    const m = compiled();
    await expect(m.evaluate(x, y, { verbose: 0 })).resolves.toHaveProperty('loss');
    await expect(m.predict(x, { verbose: 0 })).resolves.toHaveProperty('shape', [40, 3]);
    for (const verbose of ['loud', 7, null]) {
      expect((await failure(() => m.predict(x, { verbose } as never))).code).toBe('ERR_FERRO_TYPE');
      expect((await failure(() => m.evaluate(x, y, { verbose } as never))).code).toBe('ERR_FERRO_TYPE');
    }
    // Keras's snake_case, which the TypeScript names spell in camelCase.
    expect((await failure(() => compiled().fit(x, y, { batch_size: 1 } as never))).message).toMatch(
      /Received: 'batch_size' \(ferro-nn spells it 'batchSize'\)$/,
    );
    expect((await failure(() => new Dense(2, { use_bias: false } as never))).message).toMatch(/spells it 'useBias'/);
    expect((await failure(() => new optimizers.Adam({ learning_rate: 0.5 } as never))).message).toMatch(/spells it 'learningRate'/);
    expect((await failure(() => new EarlyStopping({ restore_best_weights: true } as never))).message).toMatch(/spells it 'restoreBestWeights'/);
  });

  it('a refusal names the call that was refused, and odd values get codes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferro-errors-'));
    const { x, y } = blobs(40);
    const m = compiled();
    m.build([null, 6]);
    await m.saveWeights(join(dir, 'w.weights.h5'));
    const loading = m.loadWeights(join(dir, 'w.weights.h5'));
    m.dispose();
    expect((await failure(() => loading)).message).toBe('The model has been disposed: loadWeights() needs a new model.');
    expect((await failure(() => m.optimizerIterations)).code).toBe('ERR_FERRO_STATE');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const policy of [1n, circular, new Proxy({}, {})]) {
      expect((await failure(() => mixedPrecision.setGlobalPolicy(policy as never))).code).toBe('ERR_FERRO_TYPE');
      expect((await failure(() => new Sequential([], { dtypePolicy: policy as never }))).code).toBe('ERR_FERRO_TYPE');
    }
    expect((await failure(() => mixedPrecision.setGlobalPolicy(2n as never))).message).toMatch(/Received: 2n$/);
    mkdirSync(join(dir, 'log.csv'));
    const logger = new CSVLogger(join(dir, 'log.csv'), { append: true });
    expect((await failure(() => compiled().fit(x, y, { verbose: 0, callbacks: [logger] }))).code).toBe('ERR_FERRO_IO');
  });

  it('callback options and range messages that say what was expected (audit of 2026-12-01)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferro-callback-options-'));
    const file = join(dir, 'best.keras');
    for (const bad of ['abc', null, {}]) {
      expect((await failure(() => new ModelCheckpoint({ filepath: file, initialValueThreshold: bad as never }))).code).toBe('ERR_FERRO_TYPE');
    }
    expect((await failure(() => new ModelCheckpoint({ filepath: file, initialValueThreshold: NaN }))).code).toBe('ERR_FERRO_VALUE');
    for (const make of [
      (verbose: unknown) => new EarlyStopping({ verbose: verbose as never }),
      (verbose: unknown) => new ReduceLROnPlateau({ verbose: verbose as never }),
      (verbose: unknown) => new LearningRateScheduler((_, lr) => lr, verbose as never),
    ]) {
      expect((await failure(() => make('yes'))).code).toBe('ERR_FERRO_TYPE');
      expect((await failure(() => make(2))).message).toBe('Expected a non-negative integer no larger than 1 for verbose. Received: verbose=2');
      expect(() => [make(0), make(1), make(undefined)]).not.toThrow();
    }
    for (const rate of [NaN, Infinity, -0.5, 1]) {
      expect((await failure(() => new Dropout(rate))).message).toBe(`Expected a Dropout rate in [0, 1). Received: rate=${rate}`);
    }
    const { x, y } = blobs(20);
    for (const split of [NaN, -0.1, 1]) {
      const e = await failure(() => compiled().fit(x, y, { verbose: 0, validationSplit: split }));
      expect(e.message).toBe(`Expected validationSplit in [0, 1). Received: validationSplit=${split}`);
    }
  });

  it('a model not built yet reports its schedule\'s rate at step 0, as built it does', () => {
    const schedules = [
      new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 }),
      new PiecewiseConstantDecay([-5, 100], [0.3, 0.2, 0.1]),
      new CosineDecay({ initialLearningRate: 0.05, decaySteps: 100, warmupTarget: 0.5, warmupSteps: 10 }),
    ];
    for (const schedule of schedules) {
      const m = new Sequential([new Dense(2)]);
      m.compile({ optimizer: new RMSprop({ learningRate: schedule }), loss: 'mse' });
      const unbuilt = m.learningRate;
      m.build([null, 3]);
      expect(unbuilt).toBeCloseTo(m.learningRate, 7);
      m.dispose();
    }
  });

  it('rates and options finite as doubles but not in float32 are refused, not trained into NaN', async () => {
    const tooBig = [
      new RMSprop({ learningRate: 1e300 }),
      new RMSprop({ epsilon: 1e-50 }),
      new SGD({ clipnorm: 1e39 }),
      new RMSprop({ learningRate: new ExponentialDecay({ initialLearningRate: 1e39, decaySteps: 10, decayRate: 0.5 }) }),
    ];
    for (const optimizer of tooBig) {
      const m = new Sequential([new Dense(2)]);
      const e = await failure(() => m.compile({ optimizer, loss: 'mse' }));
      expect(e.code).toBe('ERR_FERRO_VALUE');
      expect(e.message).toMatch(/finite in float32/);
    }
    const m = compiled();
    m.build([null, 6]);
    const e = await failure(() => {
      m.learningRate = 1e300;
    });
    expect(e.message).toMatch(/^Expected a number >= 0 that is finite in float32 .*Received: learningRate=1e\+300/);
    expect(m.learningRate).toBeCloseTo(1e-3, 9);
  });

  it('files: missing folder for loadData', async () => {
    expect((await failure(() => loadData({ path: '/nonexistent/mnist' }))).code).toBe('ERR_FERRO_IO');
    expect((await failure(() => loadData({ path: 7 as never }))).code).toBe('ERR_FERRO_TYPE');
  });

  it('NaN and Infinity in x train on, reporting NaN loss, as Keras does; nothing crashes', async () => {
    const m = compiled();
    const { x, y } = blobs(30);
    const data = x.data.slice();
    data[3] = Number.NaN;
    data[40] = Infinity;
    const h = await m.fit(new Tensor(data, x.shape), y, { epochs: 2, batchSize: 10, verbose: 0, shuffle: false });
    expect(Number.isNaN(h.history.loss[0])).toBe(true);
    const p = await m.predict(new Tensor(data, x.shape));
    expect(p.shape).toEqual([30, 3]);
  });
});

describe('panics never reach Node', () => {
  it('a panic in a synchronous native call becomes ERR_FERRO_INTERNAL', () => {
    let err: unknown;
    try {
      binding.testPanicSync();
    } catch (e) {
      err = fromNative(e);
    }
    expect(err).toBeInstanceOf(FerroInternalError);
    expect((err as FerroInternalError).code).toBe('ERR_FERRO_INTERNAL');
    expect((err as Error).message).toContain('deliberate panic in a synchronous call');
  });

  it('a panic in a job on the pool rejects the promise, and the process lives on', async () => {
    const err = await nativeCall((done) => binding.testPanicAsync(done)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerroInternalError);
    expect((err as Error).message).toContain('deliberate panic in a pool job');
    // Still alive, and the pool still works.
    expect((await compiled().predict(blobs(4).x)).shape).toEqual([4, 3]);
  });

  it('a panic in the middle of a fit rejects it and leaves the model usable', async () => {
    const native = new binding.NativeModel(6, [
      { kind: 'Dense', units: 8, activation: 'relu', useBias: true, kernelInitializer: 'glorot_uniform', biasInitializer: 'zeros' },
      { kind: 'Dense', units: 3, activation: 'softmax', useBias: true, kernelInitializer: 'glorot_uniform', biasInitializer: 'zeros' },
    ]);
    native.compile({ name: 'RMSprop', learningRate: 0.01, rho: 0.9, epsilon: 1e-7, momentum: 0, centered: false }, { name: 'sparse_categorical_crossentropy' }, []);
    const { x, y } = blobs(100);
    const config = { epochs: 2, batchSize: 10, shuffle: true, eachBatch: false };
    // Drives a native session by hand: resume after every epoch event.
    const fitOnce = (panicAt?: number): Promise<number> =>
      new Promise((resolve, reject) => {
        let epochs = 0;
        const session = native.fitStart({ values: x.data }, { classes: y.data }, null, null, config, (error, e) => {
          if (error) return reject(fromNative(error));
          if (e.kind !== 'epoch') return;
          epochs += 1;
          if (session.resume(false, false)) resolve(epochs);
        });
        if (panicAt !== undefined) session.testPanicAtBatch(panicAt);
        session.resume(false, false);
      });
    const err = await fitOnce(3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerroInternalError);
    expect((err as Error).message).toContain('deliberate panic in fit after batch 3');
    // The lock was poisoned by the unwinding; the model recovers with the weights of its last step.
    const weights = native.getWeights();
    expect(weights.every((w) => w.every(Number.isFinite))).toBe(true);
    const m = await nativeCall<Metrics>((done) => native.evaluate({ values: x.data }, { classes: y.data }, 32, undefined, done));
    expect(m.logs[0]!.name).toBe('loss');
    expect(Number.isFinite(m.logs[0]!.value)).toBe(true);
    expect(await fitOnce()).toBe(2);
  });

  it('test hooks refuse to run unless FERRO_NN_TEST_HOOKS=1', () => {
    process.env.FERRO_NN_TEST_HOOKS = '0';
    try {
      expect(() => binding.testPanicSync()).toThrow(/Test hooks are disabled/);
    } finally {
      process.env.FERRO_NN_TEST_HOOKS = '1';
    }
  });
});

describe('dispose', () => {
  it('frees the model at once; every later call is ERR_FERRO_STATE', async () => {
    const m = compiled();
    const { x, y } = blobs(20);
    await m.fit(x, y, { verbose: 0 });
    m.dispose();
    expect(m.disposed).toBe(true);
    m.dispose(); // twice is fine
    for (const call of [() => m.fit(x, y), () => m.predict(x), () => m.evaluate(x, y), () => m.getWeights(), () => m.summary(), () => m.layers[0]!.getWeights()]) {
      const err = await failure(call);
      expect(err).toBeInstanceOf(FerroStateError);
      expect(err.message).toMatch(/disposed/);
    }
  });

  it('frees native models when their JS objects are garbage-collected', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc).toBeDefined();
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 4; i++) {
        gc!();
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await settle();
    const before = binding.liveModels();
    // In a function of its own, so that no frame of this test keeps the last model.
    const useAndDrop = async (): Promise<void> => {
      const m = compiled();
      await m.fit(blobs(40).x, blobs(40).y, { verbose: 0 }); // async calls must not pin the model
      await m.predict(blobs(4).x);
    };
    for (let i = 0; i < 10; i++) await useAndDrop();
    expect(binding.liveModels()).toBeGreaterThan(before); // nothing collected yet
    await settle();
    expect(binding.liveModels()).toBe(before);
  });

  it('refuses to dispose a model that is training', async () => {
    const m = compiled();
    const { x, y } = blobs(2000);
    const training = m.fit(x, y, { epochs: 10, batchSize: 8, verbose: 0 });
    expect(() => m.dispose()).toThrow(FerroBusyError);
    await training;
    m.dispose();
  });
});
