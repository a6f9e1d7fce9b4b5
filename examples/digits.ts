/**
 * Single-label multi-class classification with one-hot targets (chapter 4's
 * Reuters shape) on the digits table: Dense(64, relu) → Dense(64, relu) →
 * Dense(10, softmax), RMSprop, categorical crossentropy; 80% / 20%.
 */
import { Dense, Sequential, Tensor, setRandomSeed } from '../src/index.js';
import { permutation, readTable, take } from './data.js';

setRandomSeed(Number(process.env.SEED ?? 1));
const t = readTable('digits');
const oneHot = (idx: number[]): Tensor => {
  const y = new Float32Array(idx.length * 10);
  idx.forEach((r, i) => (y[i * 10 + t.target[r]!] = 1));
  return new Tensor(y, [idx.length, 10]);
};
const order = permutation(t.rows);
const cut = Math.floor(t.rows * 0.8);
const [trainIdx, testIdx] = [order.slice(0, cut), order.slice(cut)];
const scale = (idx: number[]): Tensor =>
  new Tensor(take(t.x, t.features, idx).map((v) => v / 16), [idx.length, t.features]);

const model = new Sequential([
  new Dense(64, { activation: 'relu' }),
  new Dense(64, { activation: 'relu' }),
  new Dense(10, { activation: 'softmax' }),
]);
model.compile({ optimizer: 'rmsprop', loss: 'categorical_crossentropy', metrics: ['accuracy'] });
await model.fit(scale(trainIdx), oneHot(trainIdx), { epochs: 30, batchSize: 32, verbose: 0 });
const { loss, accuracy } = await model.evaluate(scale(testIdx), oneHot(testIdx));
console.log(`digits: test_loss ${loss.toFixed(4)}, test_acc ${accuracy.toFixed(4)}`);
