/**
 * Every optimizer against Keras itself: golden/keras-optimizers.json comes
 * from Keras 3.15.1 (JAX backend), by golden/keras_optimizers.py. Five
 * train_on_batch steps per configuration on a Dense(7, relu) → Dense(3,
 * softmax) model with fixed weights: each step's loss, then the weights.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  Adagrad,
  Adam,
  AdamW,
  CosineDecay,
  Dense,
  ExponentialDecay,
  FerroValueError,
  InverseTimeDecay,
  type LearningRateSchedule,
  Nadam,
  type Optimizer,
  optimizers,
  PiecewiseConstantDecay,
  RMSprop,
  Sequential,
  SGD,
  Tensor,
} from '../src/index.js';
import { OPTIMIZER_CLASSES } from '../src/optimizers.js';
import { maxAbsDiff } from './helpers.js';

type Config = Record<string, number | boolean>;
interface Run {
  optimizer: string;
  config: Config;
  schedule: { name: string; config: Record<string, number | boolean | number[]> } | null;
  losses: number[];
  iterations: number;
  weights: unknown[];
}
const golden = JSON.parse(readFileSync(new URL('./golden/keras-optimizers.json', import.meta.url), 'utf8')) as {
  x: number[][];
  y: number[];
  weights: (number[][] | number[])[];
  runs: Record<string, Run>;
};

const flat = (a: unknown): number[] => (Array.isArray(a) ? a.flatMap(flat) : [a as number]);

/** Keras's snake_case arguments as ferro-nn's camelCase options. */
function options<T>(config: Record<string, T>): Record<string, T> {
  const renamed: Record<string, string> = { beta_1: 'beta1', beta_2: 'beta2' };
  return Object.fromEntries(
    Object.entries(config).map(([k, v]) => [renamed[k] ?? k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]),
  );
}

function schedule(s: NonNullable<Run['schedule']>): LearningRateSchedule {
  const o = options(s.config) as never;
  switch (s.name) {
    case 'ExponentialDecay':
      return new ExponentialDecay(o);
    case 'InverseTimeDecay':
      return new InverseTimeDecay(o);
    case 'CosineDecay':
      return new CosineDecay(o);
    default:
      return new PiecewiseConstantDecay(s.config.boundaries as number[], s.config.values as number[]);
  }
}

const make = OPTIMIZER_CLASSES as Record<string, (o: Config | Record<string, unknown>) => Optimizer>;

describe('every optimizer matches Keras 3 step for step', () => {
  for (const [name, run] of Object.entries(golden.runs)) {
    it(`${run.optimizer} (${name}): ${JSON.stringify(run.config)} ${run.schedule?.name ?? ''}`, async () => {
      const model = new Sequential([new Dense(7, { activation: 'relu', inputDim: 5 }), new Dense(3, { activation: 'softmax' })]);
      model.build([null, 5]);
      model.setWeights(golden.weights.map((w) => new Tensor(w as number[][])));
      const o = { ...options(run.config), ...(run.schedule ? { learningRate: schedule(run.schedule) } : {}) };
      model.compile({ optimizer: make[run.optimizer]!(o), loss: 'sparse_categorical_crossentropy' });
      const x = new Tensor(golden.x);
      const y = new Tensor(golden.y, [golden.y.length], 'int32');
      for (const loss of run.losses) {
        expect((await model.trainOnBatch(x, y)).loss).toBeCloseTo(loss, 5);
      }
      expect(model.optimizerIterations).toBe(run.iterations);
      const weights = model.getWeights();
      run.weights.forEach((w, i) => expect(maxAbsDiff(weights[i]!.data, flat(w))).toBeLessThan(2e-5));
    });
  }
});

describe("the slots TypeScript counts for summary() are the native optimizer's", () => {
  const configs: [string, () => Optimizer][] = [
    ['SGD', () => new SGD()],
    ['SGD momentum', () => new SGD({ momentum: 0.9 })],
    ['RMSprop', () => new RMSprop()],
    ['RMSprop momentum', () => new RMSprop({ momentum: 0.5 })],
    ['RMSprop momentum centered', () => new RMSprop({ momentum: 0.5, centered: true })],
    ['RMSprop centered', () => new RMSprop({ centered: true })],
    ['Adam', () => new Adam()],
    ['Adam amsgrad', () => new Adam({ amsgrad: true })],
    ['AdamW', () => new AdamW()],
    ['Adagrad', () => new Adagrad()],
    ['Nadam', () => new Nadam()],
  ];
  for (const [name, make] of configs) {
    it(name, () => {
      const optimizer = make();
      const m = new Sequential([new Dense(3, { inputDim: 2 })]);
      m.compile({ optimizer, loss: 'mse' });
      m.build([null, 2]);
      expect([...new Set(m.optimizerState().slots.map((s) => s.name))]).toEqual(optimizer.slotNames());
    });
  }
});

describe('optimizer options', () => {
  it('take Keras defaults, accept names, and refuse what Keras refuses', async () => {
    expect(new SGD().learningRate).toBe(0.01);
    expect(new Adam().learningRate).toBe(1e-3);
    expect(new AdamW().weightDecay).toBe(0.004);
    expect(new Adagrad().initialAccumulatorValue).toBe(0.1);
    expect(new optimizers.schedules.ExponentialDecay({ initialLearningRate: 1, decaySteps: 2, decayRate: 0.5 })).toBeInstanceOf(
      ExponentialDecay,
    );
    expect(() => new PiecewiseConstantDecay([10, 20], [1, 0.5])).toThrow(FerroValueError);
    expect(() => new ExponentialDecay({ initialLearningRate: 1, decaySteps: 0, decayRate: 0.5 })).toThrow(/decaySteps/);
    expect(() => new Adam({ clipnorm: 1, clipvalue: 1 })).toThrow(FerroValueError);
    expect(() => new SGD({ momentum: 1.5 })).toThrow(/momentum/);
    expect(() => new Nadam({ epsilon: 0 })).toThrow(/epsilon/);
    for (const name of ['sgd', 'rmsprop', 'adam', 'adamw', 'adagrad', 'nadam'] as const) {
      const model = new Sequential([new Dense(3, { activation: 'softmax', inputDim: 2 })]);
      model.compile({ optimizer: name, loss: 'sparse_categorical_crossentropy' });
      await model.fit([[0, 1], [1, 0]], [0, 1], { epochs: 2, verbose: 0 });
      expect(model.optimizerIterations).toBe(2);
    }
  });
});
