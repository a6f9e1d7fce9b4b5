/** Step 1 of run.sh: a digits classifier trained in ferro-nn, saved as work/model.keras. */
import { Dense, Dropout, Sequential, Tensor, setRandomSeed } from '../../src/index.js';
import { permutation, readTable, take } from '../data.js';

setRandomSeed(1);
const t = readTable('digits');
const order = permutation(t.rows);
const cut = Math.floor(t.rows * 0.8);
const rows = (idx: number[]): Tensor => new Tensor(take(t.x, t.features, idx).map((v) => v / 16), [idx.length, t.features]);
const labels = (idx: number[]): Tensor => new Tensor(Int32Array.from(idx, (r) => t.target[r]!), [idx.length]);
const [train, test] = [order.slice(0, cut), order.slice(cut)];

const model = new Sequential([
  new Dense(128, { activation: 'relu', inputShape: [t.features] }),
  new Dropout(0.3),
  new Dense(10, { activation: 'softmax' }),
]);
model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
await model.fit(rows(train), labels(train), { epochs: 3, batchSize: 32, verbose: 0 });
const { accuracy } = await model.evaluate(rows(test), labels(test));
await model.save('work/model.keras');
console.log(`ferro-nn: 3 epochs, test_acc ${accuracy.toFixed(4)}; saved work/model.keras`);
