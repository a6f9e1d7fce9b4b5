/**
 * The chapter-4 and chapter-5 examples on real data (examples/data) run as a user runs
 * them, and reach what the same Keras programs reach
 * (examples/keras_chapter4.py, seeds 1-3: breast cancer 0.956-0.974 test
 * accuracy, digits 0.956-0.969, diabetes mean validation MAE 44.2-44.8).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCapped } from './helpers.js';

/**
 * Runs an example in a child process. Awaited, not spawnSync: a worker
 * blocked past a minute (the scalar pass of test:isa on a busy machine)
 * misses vitest's RPC deadline and fails the run.
 */
const run = async (name: string): Promise<string> => {
  const file = fileURLToPath(new URL(`../examples/${name}.ts`, import.meta.url));
  const r = await runCapped([file], 110_000, 4096);
  if (r.status !== 0) throw new Error(`${name} failed (${r.killed ?? r.status}): ${r.stderr}`);
  return r.stdout;
};
const number = (text: string, label: RegExp): number => Number(label.exec(text)?.[1]);

describe('chapter-4 examples on real data', () => {
  it('binary classification: breast cancer', async () => {
    expect(number(await run('breast-cancer'), /test_acc ([\d.]+)/)).toBeGreaterThan(0.94);
  });

  it('one-hot multi-class classification: digits', async () => {
    expect(number(await run('digits'), /test_acc ([\d.]+)/)).toBeGreaterThan(0.94);
  });

  it('regression with K-fold validation: diabetes', async () => {
    expect(number(await run('diabetes'), /mean val_mae ([\d.]+)/)).toBeLessThan(48);
  });
});

/**
 * Chapter 5 (examples/regularization.ts): the same Keras program
 * (examples/keras_chapter5.py, seeds 1-3) reaches best val_loss 0.085-0.107
 * plain, 0.206-0.219 with L2 (penalty included), 0.072-0.089 with Dropout
 * and BatchNormalization, and final val_acc 0.964-0.978.
 */
describe('chapter-5 regularization on real data', () => {
  it('plain, L2 and Dropout + BatchNormalization models all generalise as in Keras', async () => {
    const out = await run('regularization');
    const best = (name: string): number => number(out, new RegExp(`${name}: best val_loss ([\\d.]+)`));
    const acc = (name: string): number => number(out, new RegExp(`${name}: .*final val_acc ([\\d.]+)`));
    expect(best('plain')).toBeLessThan(0.13);
    expect(best('l2')).toBeLessThan(0.25);
    expect(best('dropout')).toBeLessThan(0.11);
    for (const name of ['plain', 'l2', 'dropout']) expect(acc(name)).toBeGreaterThan(0.94);
  });
});
