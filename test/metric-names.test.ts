/**
 * Logs keyed by the names compile was given: metrics: ['acc'] logs 'acc'
 * and 'val_acc' as Keras does, so EarlyStopping({ monitor: 'val_acc' })
 * fires (before, it silently never did: logs only had 'accuracy').
 */
import { describe, expect, it, vi } from 'vitest';
import { Dense, EarlyStopping, type Logs, Sequential, setRandomSeed } from '../src/index.js';
import { blobs } from './helpers.js';

describe("metrics: ['acc']", () => {
  it('logs, History, evaluate and the progress line use acc and val_acc; EarlyStopping on val_acc fires', async () => {
    setRandomSeed(4);
    const { x, y } = blobs(200);
    const model = new Sequential([new Dense(8, { activation: 'relu' }), new Dense(3, { activation: 'softmax' })]);
    model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['acc'] });
    const seen: Logs[] = [];
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    // A baseline no epoch can beat: EarlyStopping stops after `patience` epochs if it watches val_acc.
    const stop = new EarlyStopping({ monitor: 'val_acc', patience: 1, baseline: 2 });
    let h;
    try {
      h = await model.fit(x, y, {
        epochs: 10,
        verbose: 2,
        validationSplit: 0.2,
        callbacks: [stop, { onEpochEnd: (_e: number, logs?: Logs) => void seen.push(logs!) }],
      });
    } finally {
      write.mockRestore();
    }
    expect(h.epoch.length).toBe(2);
    expect(stop.stoppedEpoch).toBe(1);
    expect(seen[0]!.acc).toBe(seen[0]!.accuracy);
    expect(seen[0]!.val_acc).toBe(seen[0]!.val_accuracy);
    expect(h.history.val_acc).toEqual(h.history.val_accuracy);
    const epochLine = lines.join('').split('\n').find((l) => l.includes('val_loss'))!;
    expect(epochLine).toMatch(/ - acc: [\d.]+ - loss: [\d.]+ - val_acc: [\d.]+ - val_loss: [\d.]+$/);
    const r = await model.evaluate(x, y);
    expect(r.acc).toBe(r.accuracy);
  });
});
