/**
 * The names TypeScript accepts are the names Rust accepts: the runtime lists
 * behind the public unions (checked at compile time against the unions by
 * their `readonly Name[]` types) equal the core's registry, so a name added
 * on one side only fails here.
 */
import { describe, expect, it } from 'vitest';
import { optimizers } from '../src/index.js';
import { ACTIVATION_NAMES, INITIALIZER_NAMES, layers } from '../src/layers.js';
import { binding } from '../src/native.js';
import { OPTIMIZER_NAMES, optimizerFromName } from '../src/optimizers.js';
import { LOSS_NAMES, METRIC_NAMES } from '../src/sequential-options.js';

const registry = Object.fromEntries(binding.registry().map((r) => [r.kind, [...r.names].sort()]));
const sorted = (names: readonly string[]): string[] => [...names].sort();

describe('one registry of names', () => {
  it('activations, initializers, losses and optimizers match the core', () => {
    expect(sorted(ACTIVATION_NAMES)).toEqual(registry.activation);
    expect(sorted(INITIALIZER_NAMES)).toEqual(registry.initializer);
    expect(sorted(LOSS_NAMES)).toEqual(registry.loss);
    expect(sorted(OPTIMIZER_NAMES)).toEqual(registry.optimizer);
    expect(sorted(METRIC_NAMES)).toEqual(registry.metric);
    expect(sorted(Object.keys(layers))).toEqual(registry.layer);
    expect(Object.values(layers).map((L) => L.name)).toEqual(Object.keys(layers));
  });

  it('each optimizer name makes the Keras class the core expects, and every schedule is exported', () => {
    expect(sorted(OPTIMIZER_NAMES.map((n) => optimizerFromName(n).className))).toEqual(registry.optimizerClass);
    const schedules = Object.keys(optimizers.schedules).filter((k) => k !== 'LearningRateSchedule');
    expect(sorted(schedules)).toEqual(registry.schedule);
  });
});

describe('initializers through the public API', () => {
  it("'orthogonal' gives a kernel with orthonormal columns; Keras's random ones stay in their ranges", async () => {
    const { Dense, Sequential } = await import('../src/index.js');
    const m = new Sequential([
      new Dense(3, { inputDim: 5, kernelInitializer: 'orthogonal' }),
      new Dense(4, { kernelInitializer: 'random_uniform', biasInitializer: 'truncated_normal' }),
    ]);
    m.build([null, 5]);
    const [k, , k2, b2] = m.getWeights().map((w) => w.data);
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        let dot = 0;
        for (let r = 0; r < 5; r++) dot += k![r * 3 + a]! * k![r * 3 + b]!;
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 5);
      }
    }
    expect(Array.from(k2!).every((v) => Math.abs(v) <= 0.05)).toBe(true);
    expect(Array.from(b2!).every((v) => Math.abs(v) <= 0.1)).toBe(true);
  });
});
