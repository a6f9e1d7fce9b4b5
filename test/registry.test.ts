/**
 * The names TypeScript accepts are the names Rust accepts: the runtime lists
 * behind the public unions (checked at compile time against the unions by
 * their `readonly Name[]` types) equal the core's registry, so a name added
 * on one side only fails here.
 */
import { describe, expect, it } from 'vitest';
import { optimizers } from '../src/index.js';
import { ACTIVATION_NAMES, INITIALIZER_NAMES } from '../src/layers.js';
import { binding } from '../src/native.js';
import { OPTIMIZER_NAMES, optimizerFromName } from '../src/optimizers.js';
import { LOSS_NAMES } from '../src/sequential.js';

const registry = Object.fromEntries(binding.registry().map((r) => [r.kind, [...r.names].sort()]));
const sorted = (names: readonly string[]): string[] => [...names].sort();

describe('one registry of names', () => {
  it('activations, initializers, losses and optimizers match the core', () => {
    expect(sorted(ACTIVATION_NAMES)).toEqual(registry.activation);
    expect(sorted(INITIALIZER_NAMES)).toEqual(registry.initializer);
    expect(sorted(LOSS_NAMES)).toEqual(registry.loss);
    expect(sorted(OPTIMIZER_NAMES)).toEqual(registry.optimizer);
  });

  it('each optimizer name makes the Keras class the core expects, and every schedule is exported', () => {
    expect(sorted(OPTIMIZER_NAMES.map((n) => optimizerFromName(n).className))).toEqual(registry.optimizerClass);
    const schedules = Object.keys(optimizers.schedules).filter((k) => k !== 'LearningRateSchedule');
    expect(sorted(schedules)).toEqual(registry.schedule);
  });
});
