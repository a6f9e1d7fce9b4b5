// The seed program: Chollet's first Keras example ("Deep Learning with Python", ch. 2), in TypeScript.
// With --plot it also draws the training curves into mnist-history.svg.
import { Sequential, Dense, mnist } from 'ferro-nn';
import { plotHistory } from 'ferro-nn';

const [[trainImages, trainLabels], [testImages, testLabels]] = await mnist.loadData();
const x = trainImages.reshape([60000, 28 * 28]).asType('float32').div(255);
const xTest = testImages.reshape([10000, 28 * 28]).asType('float32').div(255);

const model = new Sequential([
  new Dense(512, { activation: 'relu' }),
  new Dense(10, { activation: 'softmax' }),
]);
model.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
await model.fit(x, trainLabels, { epochs: 5, batchSize: 128 });
const { loss, accuracy } = await model.evaluate(xTest, testLabels);
console.log(`test_acc: ${accuracy.toFixed(4)}`);

if (process.argv.includes('--plot') && model.history) {
  await plotHistory(model.history, 'mnist-history.svg', { title: 'MNIST, Dense(512, relu) → Dense(10, softmax)' });
  console.log('wrote mnist-history.svg');
}
