/**
 * Binary classification (chapter 4's IMDB shape) on the breast-cancer table:
 * Dense(16, relu) → Dense(16, relu) → Dense(1, sigmoid), RMSprop,
 * binary crossentropy; 80% to train, 20% to test.
 */
import { Dense, Sequential, Tensor, setRandomSeed } from '../src/index.js';
import { permutation, readTable, standardize, take } from './data.js';

setRandomSeed(Number(process.env.SEED ?? 1));
const t = readTable('breast_cancer');
const order = permutation(t.rows);
const cut = Math.floor(t.rows * 0.8);
const [trainIdx, testIdx] = [order.slice(0, cut), order.slice(cut)];
const [xTrain, xTest] = [take(t.x, t.features, trainIdx), take(t.x, t.features, testIdx)];
standardize(xTrain, [xTest], t.features);
const yTrain = new Tensor(take(t.target, 1, trainIdx), [trainIdx.length, 1]);
const yTest = new Tensor(take(t.target, 1, testIdx), [testIdx.length, 1]);

const model = new Sequential([
  new Dense(16, { activation: 'relu' }),
  new Dense(16, { activation: 'relu' }),
  new Dense(1, { activation: 'sigmoid' }),
]);
model.compile({ optimizer: 'rmsprop', loss: 'binary_crossentropy', metrics: ['accuracy'] });
await model.fit(new Tensor(xTrain, [trainIdx.length, t.features]), yTrain, { epochs: 20, batchSize: 32, verbose: 0 });
const { loss, accuracy } = await model.evaluate(new Tensor(xTest, [testIdx.length, t.features]), yTest);
console.log(`breast cancer: test_loss ${loss.toFixed(4)}, test_acc ${accuracy.toFixed(4)}`);
