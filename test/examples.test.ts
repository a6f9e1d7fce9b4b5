/**
 * The chapter-4 examples on real data (examples/data) run as a user runs
 * them, and reach what the same Keras programs reach
 * (examples/keras_chapter4.py, seeds 1-3: breast cancer 0.956-0.974 test
 * accuracy, digits 0.956-0.969, diabetes mean validation MAE 44.2-44.8).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const run = (name: string): string => {
  const file = fileURLToPath(new URL(`../examples/${name}.ts`, import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr}`);
  return r.stdout;
};
const number = (text: string, label: RegExp): number => Number(label.exec(text)?.[1]);

describe('chapter-4 examples on real data', () => {
  it('binary classification: breast cancer', () => {
    expect(number(run('breast-cancer'), /test_acc ([\d.]+)/)).toBeGreaterThan(0.94);
  });

  it('one-hot multi-class classification: digits', () => {
    expect(number(run('digits'), /test_acc ([\d.]+)/)).toBeGreaterThan(0.94);
  });

  it('regression with K-fold validation: diabetes', () => {
    expect(number(run('diabetes'), /mean val_mae ([\d.]+)/)).toBeLessThan(48);
  });
});
