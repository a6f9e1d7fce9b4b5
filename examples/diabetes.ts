/**
 * Scalar regression with K-fold validation (chapter 4's Boston-housing
 * shape) on the diabetes table: Dense(64, relu) → Dense(64, relu) →
 * Dense(1), RMSprop, mse with the mae metric; 4 folds, the validation MAE
 * of each and their mean.
 */
import { Dense, Sequential, Tensor, setRandomSeed } from '../src/index.js';
import { permutation, readTable, standardize, take } from './data.js';

setRandomSeed(Number(process.env.SEED ?? 1));
const t = readTable('diabetes');
const order = permutation(t.rows);
const k = 4;
const foldSize = Math.floor(t.rows / k);
const maes: number[] = [];
for (let fold = 0; fold < k; fold++) {
  const valIdx = order.slice(fold * foldSize, (fold + 1) * foldSize);
  const trainIdx = [...order.slice(0, fold * foldSize), ...order.slice((fold + 1) * foldSize)];
  const [xTrain, xVal] = [take(t.x, t.features, trainIdx), take(t.x, t.features, valIdx)];
  standardize(xTrain, [xVal], t.features);
  const model = new Sequential([
    new Dense(64, { activation: 'relu' }),
    new Dense(64, { activation: 'relu' }),
    new Dense(1),
  ]);
  model.compile({ optimizer: 'rmsprop', loss: 'mse', metrics: ['mae'] });
  const yTrain = new Tensor(take(t.target, 1, trainIdx), [trainIdx.length, 1]);
  await model.fit(new Tensor(xTrain, [trainIdx.length, t.features]), yTrain, { epochs: 100, batchSize: 16, verbose: 0 });
  const yVal = new Tensor(take(t.target, 1, valIdx), [valIdx.length, 1]);
  const mae = (await model.evaluate(new Tensor(xVal, [valIdx.length, t.features]), yVal)).mae!;
  maes.push(mae);
  console.log(`diabetes fold ${fold + 1}/${k}: val_mae ${mae.toFixed(2)}`);
}
console.log(`diabetes: mean val_mae ${(maes.reduce((a, b) => a + b, 0) / k).toFixed(2)} (target range 25-346)`);
