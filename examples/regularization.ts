/**
 * Chapter 5's tools against overfitting, on the digits table: an oversized
 * classifier (Dense(512) → Dense(512) → Dense(10, softmax), RMSprop) trained
 * as is, with L2 weight penalties (whose penalty val_loss includes, as in
 * Keras), and with Dropout and BatchNormalization; the first 60% of a fixed
 * shuffle trains, the rest validates. Prints each model's best and final
 * val_loss and final val_acc. examples/keras_chapter5.py is the same program
 * in Keras.
 */
import { BatchNormalization, Dense, Dropout, type Layer, Sequential, Tensor, regularizers, setRandomSeed } from '../src/index.js';
import { permutation, readTable, take } from './data.js';

const t = readTable('digits');
const order = permutation(t.rows);
const x = new Tensor(take(t.x, t.features, order).map((v) => v / 16), [t.rows, t.features]);
const y = new Tensor(Int32Array.from(order, (r) => t.target[r]!), [t.rows]);

const variants: Record<string, () => Layer[]> = {
  plain: () => [new Dense(512, { activation: 'relu' }), new Dense(512, { activation: 'relu' })],
  l2: () => [
    new Dense(512, { activation: 'relu', kernelRegularizer: regularizers.l2(0.002) }),
    new Dense(512, { activation: 'relu', kernelRegularizer: regularizers.l2(0.002) }),
  ],
  dropout: () => [
    new Dense(512, { activation: 'relu' }),
    new Dropout(0.5),
    new Dense(512),
    new BatchNormalization(),
    new Dense(512, { activation: 'relu' }),
    new Dropout(0.5),
  ],
};

for (const [name, hidden] of Object.entries(variants)) {
  setRandomSeed(Number(process.env.SEED ?? 1));
  const model = new Sequential([...hidden(), new Dense(10, { activation: 'softmax' })]);
  model.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  const h = await model.fit(x, y, { epochs: 40, batchSize: 32, validationSplit: 0.4, verbose: 0 });
  const val = h.history.val_loss!;
  const best = Math.min(...val);
  console.log(
    `${name}: best val_loss ${best.toFixed(4)} (epoch ${val.indexOf(best) + 1}), final val_loss ${val.at(-1)!.toFixed(4)}, final val_acc ${h.history.val_accuracy!.at(-1)!.toFixed(4)}`,
  );
}
