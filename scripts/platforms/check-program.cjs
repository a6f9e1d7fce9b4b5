// Run by test:platforms with each platform's own Node, in a project where
// that platform's packed tarballs are installed: the seed model (Dense(512,
// relu) -> Dense(10, softmax), RMSprop) on an MNIST subset with a fixed seed,
// printing what is compared with the x64 run. A different ISA (NEON, say)
// sums in another order, so figures agree within tolerance, not bit for bit.
const { Dense, Sequential, kernelIsa, mnist, setRandomSeed } = require('ferro-nn');

(async () => {
  const [[images, labels], [testImages, testLabels]] = await mnist.loadData();
  const rows = (t, n) => t.slice(0, n).reshape([n, 784]).asType('float32').div(255);
  setRandomSeed(7);
  const model = new Sequential([new Dense(512, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })]);
  model.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  const history = await model.fit(rows(images, 2048), labels.slice(0, 2048), { epochs: 3, batchSize: 128, shuffle: false, verbose: 0 });
  const { loss, accuracy } = await model.evaluate(rows(testImages, 1000), testLabels.slice(0, 1000));
  const out = { platform: `${process.platform}-${process.arch}`, isa: kernelIsa(), trainLoss: history.history.loss, loss, accuracy };
  console.log(JSON.stringify(out));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
