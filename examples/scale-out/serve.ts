/** Step 3 of run.sh: ferro-nn loads the model Keras trained on and serves it. */
import { loadModel, Tensor } from '../../src/index.js';
import { permutation, readTable, take } from '../data.js';

const t = readTable('digits');
const order = permutation(t.rows);
const test = order.slice(Math.floor(t.rows * 0.8));
const x = new Tensor(take(t.x, t.features, test).map((v) => v / 16), [test.length, t.features]);
const y = new Tensor(Int32Array.from(test, (r) => t.target[r]!), [test.length]);

const model = await loadModel('work/continued.keras');
const { accuracy } = await model.evaluate(x, y);
const first = (await model.predict(x.slice(0, 1))).argMax(-1).toArray();
console.log(`ferro-nn serving Keras's model: test_acc ${accuracy.toFixed(4)}, first test digit predicted ${String(first)} (label ${t.target[test[0]!]})`);
