/** Sequential: a linear stack of layers with Keras's compile / fit / evaluate / predict. */

import type { History } from './callbacks.js';
import { countParams } from './shapes.js';
import { summarise } from './summary.js';
import { type Features, toFeatures, toTargets } from './data.js';
import { FerroBusyError, FerroShapeError, FerroStateError, FerroTypeError, FerroValueError, native, nativeCall } from './errors.js';
import { checkVerbosity, type FitOptions, runFit, type Trainee } from './fit.js';
import { Layer, type LayerModel, MAX_UNITS } from './layer.js';
import { checkPolicy, type DTypePolicyName, mixedPrecision, warnFloat32Fallback } from './mixed-precision.js';
import { loadWeightsH5, saveKeras, saveWeightsH5 } from './saving/keras.js';
import { exportOnnx } from './saving/onnx.js';
import { saveTfjs } from './saving/tfjs.js';
import { binding, type Metrics, type NativeModel, type OptimizerState } from './native.js';
import { Loss } from './losses.js';
import { OPTIMIZER_NAMES, Optimizer, optimizerFromName } from './optimizers.js';
import { Tensor, type TensorLike, toTensor } from './tensor.js';
import { weightsOf } from './sample-weights.js';
import { checkInt, checkKerasName, checkName, checkNumber, checkOptions, checkString, describe, isArray, mapEntries } from './validate.js';

import {
  ACCURACY_NAMES,
  COMPILE_ARGS,
  EVALUATE_OPTIONS,
  LOSS_NAMES,
  METRIC_NAMES,
  PREDICT_OPTIONS,
  SEQUENTIAL_OPTIONS,
  SPARSE_LOSSES,
  type CompileArgs,
  type EvaluateOptions,
  type EvaluateResult,
  type LossName,
  type MetricName,
  type PredictOptions,
  type SequentialOptions,
} from './sequential-options.js';

let sequentialCount = 0;
/** predict() calls made on this thread whose promises have not yet settled. */
let unreturnedPredicts = 0;

/**
 * 'training': a fit or trainOnBatch runs, and other calls are refused with
 * ERR_FERRO_BUSY. 'paused': fit waits on its epoch callbacks, which may
 * read or set the weights, evaluate and predict.
 */
type Phase = 'idle' | 'training' | 'paused' | 'disposed';

/**
 * A stack of layers trained as one model, as in Keras: add layers, compile,
 * then fit, evaluate and predict (each a Promise that runs off the event loop).
 */
export class Sequential implements LayerModel {
  /** The layers, input first. */
  readonly layers: Layer[] = [];
  /** The layers' names, for add's check that each is new. */
  private readonly layerNames = new Set<string>();
  /** The name summary() shows. */
  readonly name: string;
  /** The dtype policy the model computes with ('float32' or 'mixed_bfloat16'), fixed when it is created. */
  readonly dtypePolicy: DTypePolicyName;
  private bfloat16 = false;
  /** Set to true (e.g. from a callback) to end fit after the current batch. */
  stopTraining = false;
  /** What the last fit resolved to, as Keras keeps it in model.history. */
  history: History | undefined;
  private model: NativeModel | undefined;
  private optimizer: Optimizer | undefined;
  /** Whether the optimizer has variables: training began, or a saved state was loaded, since compile. */
  private optimizerBuilt = false;
  /** What compile's metrics called accuracy, when not 'accuracy'. */
  private accuracyAlias: string | undefined;
  /** compile's metrics besides accuracy, in order: the native side computes them. */
  private metricNames: MetricName[] = [];
  /** compile's metrics as given (what a saved model records). */
  private compiledMetrics: MetricName[] = [];
  private loss: Loss | LossName | undefined;
  private phase: Phase = 'idle';
  /** Counts training calls, so that a late callback of an ended one changes nothing. */
  private trainingRun = 0;

  /**
   * @param layers the layers, input first; more can follow with add().
   * @param options the model's name.
   */
  constructor(layers: readonly Layer[] = [], options: SequentialOptions = {}) {
    if (!isArray(layers)) {
      throw new FerroTypeError(`Expected an array of layers. Received: ${describe(layers)}`);
    }
    const o = checkOptions(options, 'Sequential', SEQUENTIAL_OPTIONS);
    this.name =
      o.name === undefined ? (sequentialCount === 0 ? 'sequential' : `sequential_${sequentialCount}`) : checkKerasName(o.name, 'model');
    this.dtypePolicy = o.dtypePolicy === undefined ? mixedPrecision.globalPolicy() : checkPolicy(o.dtypePolicy, 'dtypePolicy');
    sequentialCount += 1;
    try {
      // A hole reads as undefined, which add refuses with the rest.
      mapEntries(layers, (layer) => this.add(layer as Layer));
    } catch (error) {
      // No model came to be: its layers may go into another one.
      for (const layer of this.layers) layer.container = undefined;
      throw error;
    }
  }

  /** Appends a layer; the model must not be built yet. */
  add(layer: Layer): void {
    this.checkUsable('add');
    if (!(layer instanceof Layer)) {
      throw new FerroTypeError(`Expected a layer such as new Dense(10). Received: ${describe(layer)}`);
    }
    if (this.model) {
      throw new FerroStateError(
        `Cannot add layer '${layer.name}': the model is already built. Add every layer before build() or fit(), ` +
          'and, when the first layer declares its input, before getWeights(), setWeights(), save(), saveWeights() or loadWeights().',
      );
    }
    // A layer keeps one model's input width and finds its weights through
    // that model: in a second model it would break the first one.
    if (layer.container) {
      throw new FerroStateError(`Layer '${layer.name}' already belongs to a model; create a new layer instead.`);
    }
    // As Keras: saved weights are found by layer name, so two layers of one name would swap them.
    // A set, not a scan of the layers: a loaded config may hold 10⁵ of them.
    if (this.layerNames.has(layer.name)) {
      throw new FerroValueError(`Expected layers with unique names in a Sequential model. Received: a second layer named '${layer.name}'`);
    }
    this.layerNames.add(layer.name);
    this.layers.push(layer);
    layer.container = this;
  }

  /**
   * Whether the weights exist: after build(), or the first fit, evaluate,
   * predict or trainOnBatch, or, when the first layer declares inputDim,
   * after getWeights, setWeights, save, saveWeights, loadWeights or exportOnnx.
   */
  get built(): boolean {
    return this.model !== undefined;
  }

  /**
   * Builds the model when its first layer declares `inputDim`, as Keras
   * builds a model whose first layer has an input shape: its weights are
   * there before any data. A model that is busy, or whose first layer does
   * not say, is left as it is.
   */
  private buildFromDeclaredInput(): void {
    const inputDim = this.layers[0]?.inputDim;
    if (!this.model && inputDim !== undefined && this.phase === 'idle') this.build([null, inputDim]);
  }

  /** Creates the weights for inputs of shape [null, inputDim] (done by fit when needed). */
  build(inputShape: readonly (number | null)[]): void {
    this.checkUsable('build');
    if (!isArray(inputShape) || inputShape.length < 1 || inputShape.length > 2) {
      throw new FerroTypeError(`Expected an input shape [null, features]. Received: ${describe(inputShape)}`);
    }
    const inputDim = checkInt(inputShape[inputShape.length - 1], 'features', 1, MAX_UNITS);
    if (this.model) {
      if (this.inputDim !== inputDim) {
        throw new FerroShapeError(`The model is built for ${this.inputDim} features. Received: ${inputDim}`);
      }
      return;
    }
    if (this.layers.length === 0) {
      throw new FerroStateError('A Sequential model needs at least one layer before it can be built; add a layer such as new Dense(10).');
    }
    const first = this.layers[0]!;
    if (first.inputDim !== undefined && first.inputDim !== inputDim) {
      throw new FerroShapeError(
        `Layer '${first.name}' expects inputDim=${first.inputDim}. Received: input shape with ${inputDim} features`,
      );
    }
    const specs = this.layers.map((l) => l.config());
    this.model = native(() => new binding.NativeModel(inputDim, specs));
    if (this.dtypePolicy === 'mixed_bfloat16') {
      this.bfloat16 = native(() => this.model!.setMixedBfloat16(true));
      if (!this.bfloat16) warnFloat32Fallback();
    }
    let dim = inputDim;
    for (const layer of this.layers) {
      layer.builtInputDim = dim;
      dim = layer.outputDim(dim);
    }
    if (this.optimizer && this.loss) this.applyCompile();
  }

  /** Chooses optimizer and loss; compiling again resets the optimizer's state. */
  compile(args: CompileArgs): void {
    this.checkIdle('compile', false);
    if (this.phase !== 'idle') throw new FerroBusyError('The model is training: compile() it again once fit() settles.');
    const o = checkOptions(args, 'compile', COMPILE_ARGS);
    if (o.optimizer === undefined) throw new FerroTypeError("Expected an optimizer in compile(), e.g. 'rmsprop'.");
    const optimizer =
      o.optimizer instanceof Optimizer ? o.optimizer : optimizerFromName(checkName(o.optimizer, 'optimizer', OPTIMIZER_NAMES));
    const loss = o.loss instanceof Loss ? o.loss : checkName(o.loss, 'loss', LOSS_NAMES);
    if (o.metrics !== undefined) {
      if (!isArray(o.metrics)) {
        throw new FerroTypeError(`Expected an array of metric names for metrics. Received: ${describe(o.metrics)}`);
      }
      mapEntries(o.metrics, (m) => checkName(m, 'metric', METRIC_NAMES));
    }
    const metrics = (o.metrics ?? []) as MetricName[];
    const metricNames = [...new Set(metrics.filter((m) => !ACCURACY_NAMES.includes(m)))];
    // Checked (and, once built, applied) before anything here changes: a
    // refused compile leaves the model as it was, as in Keras. An unbuilt
    // model applies it at build, where it must not fail.
    const specs = compileSpecs(optimizer, loss, metricNames);
    native(() => (this.model ? this.model.compile(...specs) : binding.checkCompile(...specs)));
    this.accuracyAlias = metrics.find((m) => m !== 'accuracy' && ACCURACY_NAMES.includes(m));
    this.metricNames = metricNames;
    this.compiledMetrics = [...metrics];
    this.optimizer = optimizer;
    this.optimizerBuilt = false;
    this.loss = loss;
  }

  private applyCompile(): void {
    native(() => this.model!.compile(...compileSpecs(this.optimizer!, this.loss!, this.metricNames)));
  }

  /**
   * The learning rate the optimizer's next step uses (Keras's
   * `model.optimizer.learning_rate`); set it to a number from a callback or
   * between fits. Setting is refused (ERR_FERRO_STATE) when the rate follows
   * a schedule, as in Keras.
   */
  get learningRate(): number {
    this.checkUsable('learningRate');
    if (!this.optimizer) throw new FerroStateError('You must call compile() before reading the learning rate.');
    if (!this.model) {
      const lr = this.optimizer.learningRate;
      return typeof lr === 'number' ? lr : lr.rateAtStart();
    }
    return native(() => this.model!.learningRate());
  }

  /** Sets a constant learning rate from the optimizer's next step on. */
  set learningRate(value: number) {
    this.checkIdle('learningRate');
    const lr = checkNumber(value, 'learningRate', 0);
    if (!this.model) throw new FerroStateError('The model is not built yet: set the learning rate once it is (after build() or fit()).');
    native(() => this.model!.setLearningRate(lr));
  }

  /** Optimizer steps taken since compile (Keras's `model.optimizer.iterations`). */
  get optimizerIterations(): number {
    this.checkUsable('optimizerIterations');
    return this.model ? native(() => this.model!.optimizerIterations()) : 0;
  }

  /** Trains on x [samples, features] and integer labels y [samples]. */
  async fit(x: TensorLike, y: TensorLike, options: FitOptions = {}): Promise<History> {
    const history = await this.exclusive('fit', () => runFit(...this.trainee(x, 'fit'), y, options));
    this.history = history;
    return history;
  }

  /** Mean loss and accuracy over x, y. */
  async evaluate(x: TensorLike, y: TensorLike, options: EvaluateOptions = {}): Promise<EvaluateResult> {
    const batchSize = this.batchSizeOption(options, 'evaluate', EVALUATE_OPTIONS);
    this.checkIdle('evaluate');
    if (!this.loss) throw new FerroStateError('You must call compile() before evaluate(): it needs the loss.');
    const [model, f] = this.ready('evaluate', x);
    const targets = toTargets(y, f.rows, this.outputUnits, this.sparseTargets);
    const o = checkOptions(options, 'evaluate', EVALUATE_OPTIONS);
    const weights = o.sampleWeight === undefined ? undefined : weightsOf(o.sampleWeight, f.rows, 'sampleWeight');
    const m = await nativeCall<Metrics>((done) => model.evaluate(f.input, targets.rows, batchSize, weights, done));
    return this.result(m);
  }

  /** The last layer's outputs for x, float32 [samples, units]. */
  async predict(x: TensorLike, options: PredictOptions = {}): Promise<Tensor<'float32'>> {
    const batchSize = this.batchSizeOption(options, 'predict', PREDICT_OPTIONS);
    this.checkIdle('predict');
    const f = this.features(x);
    if (!this.model) this.build([null, f.features]);
    const model = this.model!;
    // A small call runs here, at once, unless this thread has predicts not
    // yet returned: those are a burst (Promise.all), which the pool's
    // threads share out faster than this one thread would.
    const here = unreturnedPredicts === 0 ? native(() => model.predictHere(f.input, f.rows, batchSize)) : null;
    unreturnedPredicts++;
    if (here) {
      queueMicrotask(() => unreturnedPredicts--);
      return new Tensor(here, [f.rows, this.outputUnits]);
    }
    try {
      const out = await nativeCall<Float32Array>((done) => model.predict(f.input, f.rows, batchSize, done));
      return new Tensor(out, [f.rows, this.outputUnits]);
    } finally {
      unreturnedPredicts--;
    }
  }

  /** One gradient step on exactly this batch; returns its loss and accuracy before the step. */
  async trainOnBatch(x: TensorLike, y: TensorLike): Promise<EvaluateResult> {
    return this.exclusive('trainOnBatch', async () => {
      const [{ nativeModel: model }, f] = this.trainee(x, 'trainOnBatch');
      const targets = toTargets(y, f.rows, this.outputUnits, this.sparseTargets);
      this.optimizerBuilt = true;
      const m = await nativeCall<Metrics>((done) => model.trainOnBatch(f.input, targets.rows, done));
      return this.result(m);
    });
  }

  /** Every weight, layer by layer (kernel then bias), like Keras's get_weights(). */
  getWeights(): Tensor<'float32'>[] {
    this.checkIdle('getWeights');
    this.buildFromDeclaredInput();
    if (!this.model) return [];
    const data = native(() => this.model!.getWeights());
    const shapes = this.weightShapes();
    return data.map((d, i) => new Tensor(d, shapes[i]));
  }

  /** Replaces every weight; count and shapes must match getWeights(). */
  setWeights(weights: readonly TensorLike[]): void {
    this.checkIdle('setWeights');
    this.buildFromDeclaredInput();
    if (!this.model) {
      throw new FerroStateError('The model is not built yet: call build([null, features]) or fit() before setWeights().');
    }
    const shapes = this.weightShapes();
    if (!isArray(weights)) {
      throw new FerroTypeError(`Expected an array of weight tensors for setWeights. Received: ${describe(weights)}`);
    }
    if (weights.length !== shapes.length) {
      throw new FerroShapeError(
        `Expected ${shapes.length} weight tensors (kernel and bias of each layer). Received: ${describe(weights)}`,
      );
    }
    const data = checkedWeights(weights, shapes);
    native(() => this.model!.setWeights(data, shapes));
  }

  /** Total parameters (0 before build, unless the first layer declares its inputDim); builds nothing. */
  countParams(): number {
    return countParams(this.layers, this.inputFeatures);
  }

  /** The input's features: built, or declared by the first layer. */
  private get inputFeatures(): number | undefined {
    return this.model ? this.inputDim : this.layers[0]?.inputDim;
  }

  /** @internal LayerModel */
  inputDimOf(layer: Layer): number | undefined {
    let dim = this.inputFeatures;
    for (const l of this.layers) {
      if (dim === undefined || l === layer) return dim;
      dim = l.outputDim(dim);
    }
    return undefined;
  }

  /** @internal LayerModel */
  layerWeights(layer: Layer): Tensor<'float32'>[] {
    this.checkIdle('getWeights');
    const index = this.layerIndex(layer);
    this.buildFromDeclaredInput();
    if (!this.model) return [];
    const data = native(() => this.model!.getLayerWeights(index));
    const shapes = layer.weightShapes(layer.builtInputDim!);
    return data.map((d, i) => new Tensor(d, shapes[i]));
  }

  /** @internal LayerModel */
  setLayerWeights(layer: Layer, weights: readonly TensorLike[]): void {
    this.checkIdle('setWeights');
    const index = this.layerIndex(layer);
    this.buildFromDeclaredInput();
    if (!this.model) {
      throw new FerroStateError(`Layer '${layer.name}' is not built yet: build or fit its model before setWeights().`);
    }
    const shapes = layer.weightShapes(layer.builtInputDim!);
    if (!isArray(weights)) {
      throw new FerroTypeError(`Expected an array of weight tensors for setWeights. Received: ${describe(weights)}`);
    }
    if (weights.length !== shapes.length) {
      throw new FerroShapeError(`Expected ${shapes.length} weight tensors for layer '${layer.name}'. Received: ${describe(weights)}`);
    }
    const data = checkedWeights(weights, shapes);
    native(() => this.model!.setLayerWeights(index, data, shapes));
  }

  private layerIndex(layer: Layer): number {
    const index = this.layers.indexOf(layer);
    if (index < 0) throw new FerroStateError(`Layer '${layer.name}' does not belong to this model.`);
    return index;
  }

  private weightShapes(): number[][] {
    return this.layers.flatMap((l) => l.weightShapes(l.builtInputDim!));
  }

  /** Whether the compiled loss takes class indices. */
  private get sparseTargets(): boolean {
    const name = this.loss instanceof Loss ? (this.loss.name as LossName) : this.loss;
    return name === undefined || SPARSE_LOSSES.includes(name);
  }

  private get inputDim(): number {
    return this.layers[0]?.builtInputDim ?? 0;
  }

  private get outputUnits(): number {
    const last = this.layers.at(-1);
    return last?.builtInputDim === undefined ? 0 : last.outputDim(last.builtInputDim);
  }

  private features(x: TensorLike): Features {
    const f = toFeatures(x);
    if (this.model && f.features !== this.inputDim) {
      throw new FerroShapeError(
        `Expected x with ${this.inputDim} features per sample, as the model was built. Received: ${f.features}`,
      );
    }
    return f;
  }

  /** Checks the model is compiled, builds it from x if needed; x as features. */
  private trainee(x: TensorLike, what: string): [Trainee, Features] {
    if (!this.optimizer) {
      throw new FerroStateError(`You must call compile() before ${what}().`);
    }
    const [model, features] = this.ready(what, x);
    const self = this;
    const run = this.trainingRun;
    const trainee: Trainee = {
      nativeModel: model,
      inputDim: this.inputDim,
      outputUnits: this.outputUnits,
      accuracyAlias: this.accuracyAlias,
      sparseTargets: this.sparseTargets,
      get stopTraining() {
        return self.stopTraining;
      },
      set stopTraining(v: boolean) {
        self.stopTraining = v;
      },
      get learningRate() {
        return self.learningRate;
      },
      set learningRate(v: number) {
        self.learningRate = v;
      },
      getWeights: () => this.getWeights(),
      setWeights: (weights) => this.setWeights(weights),
      save: (path) => this.save(path),
      saveWeights: (path) => this.saveWeights(path),
      loadWeights: (path) => this.loadWeights(path),
      // Only while this fit runs: a callback that settles after an aborted
      // fit must not mark the model as training again.
      optimizerStarts: () => {
        this.optimizerBuilt = true;
      },
      setPaused: (paused) => {
        if (this.trainingRun === run && (this.phase === 'training' || this.phase === 'paused')) {
          this.phase = paused ? 'paused' : 'training';
        }
      },
    };
    return [trainee, features];
  }

  /** The built model (built from x if needed) and x as features, converted once. */
  private ready(what: string, x: TensorLike): [NativeModel, Features] {
    if (this.layers.length === 0) {
      throw new FerroStateError(`Add at least one layer before ${what}().`);
    }
    const f = this.features(x);
    if (!this.model) this.build([null, f.features]);
    return [this.model!, f];
  }

  private batchSizeOption(options: unknown, what: string, allowed: readonly string[]): number {
    const o = checkOptions(options, what, allowed);
    checkVerbosity(o.verbose);
    return o.batchSize === undefined ? 32 : checkInt(o.batchSize, 'batchSize', 1, 2 ** 31 - 1);
  }

  /** Loss, accuracy (also under compile's name for it) and every other compiled metric, by name. */
  private result(m: Metrics): EvaluateResult {
    const r = Object.fromEntries(m.logs.map((e) => [e.name, e.value])) as EvaluateResult;
    if (this.accuracyAlias) r[this.accuracyAlias] = r.accuracy;
    return r;
  }

  /** Frees the native memory now; the model cannot be used afterwards. */
  dispose(): void {
    if (this.phase === 'disposed') return;
    this.checkIdle('dispose', false);
    if (this.phase === 'paused') throw new FerroBusyError('dispose() is not allowed from a callback of a running fit().');
    if (this.model) native(() => this.model!.dispose());
    this.model = undefined;
    this.phase = 'disposed';
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return this.phase === 'disposed';
  }

  /** Refuses `what` once the model is disposed. */
  private checkUsable(what: string): void {
    if (this.phase === 'disposed') {
      throw new FerroStateError(`The model has been disposed: ${what}() needs a new model.`);
    }
  }

  /**
   * Refuses `what` while a training step runs, or once disposed. Epoch
   * callbacks may make the call, unless `inCallbacks` is false: compile,
   * dispose and training wait for the fit to settle.
   */
  private checkIdle(what: string, inCallbacks = true): void {
    this.checkUsable(what);
    if (this.phase === 'training') {
      const hint = inCallbacks ? ` (or call ${what}() from an epoch callback)` : ` before calling ${what}()`;
      throw new FerroBusyError(`The model is training: wait for fit() or trainOnBatch() to settle${hint}.`);
    }
  }

  /** Runs a training call (`what`), refusing it while another runs. */
  private async exclusive<T>(what: string, run: () => Promise<T>): Promise<T> {
    this.checkIdle(what, false);
    if (this.phase !== 'idle') {
      throw new FerroBusyError('The model is training: wait for fit() or trainOnBatch() to settle before training it again.');
    }
    this.phase = 'training';
    this.trainingRun += 1;
    try {
      return await run();
    } finally {
      this.phase = 'idle';
    }
  }

  /** @internal Whether the wide products run in bfloat16: mixed_bfloat16 on a CPU with AMX, or whose AVX512_BF16 outruns float32 (Bf16Kernel::preferred), once built. */
  get computesInBfloat16(): boolean {
    return this.bfloat16;
  }

  /**
   * @internal The optimizer's step count and slots (for saving, or to check
   * a file against); the model must be built and compiled. `what` is the
   * public call a refusal names.
   */
  optimizerState(what = 'save'): OptimizerState {
    this.checkIdle(what);
    return native(() => this.model!.optimizerState());
  }

  /** @internal Restores a saved optimizer's step count and slots. */
  setOptimizerState(state: OptimizerState): void {
    this.checkIdle('load');
    native(() => this.model!.setOptimizerState(state));
    this.optimizerBuilt = true;
  }

  /** @internal compile's arguments, when compiled (what a saved model records). */
  compileConfig(): { optimizer: Optimizer; loss: Loss | LossName; metrics: readonly MetricName[] } | undefined {
    return this.optimizer && this.loss ? { optimizer: this.optimizer, loss: this.loss, metrics: this.compiledMetrics } : undefined;
  }

  /**
   * Saves the model: `'x.keras'` as a Keras 3 archive (architecture,
   * weights, compile settings and optimizer state), which `loadModel` and
   * Keras's `load_model` open; `'file://dir'` in TensorFlow.js's layers
   * format (model.json and weight shards), which `loadLayersModel` and
   * TensorFlow.js's `tf.loadLayersModel` open. Files are written atomically.
   */
  async save(path: string): Promise<void> {
    this.checkIdle('save');
    const file = checkString(path, 'path');
    const tfjs = file.startsWith('file://');
    if (!tfjs && !file.endsWith('.keras')) {
      throw new FerroValueError(`Expected a path ending in .keras, or a 'file://' folder for TensorFlow.js. Received: ${file}`);
    }
    this.buildFromDeclaredInput();
    await (tfjs ? saveTfjs(this, file) : saveKeras(this, file));
  }

  /**
   * Writes the inference graph as ONNX (opset 13; input 'input' [batch,
   * features], output 'output'), for onnxruntime and other ONNX runtimes.
   * The file is written atomically.
   */
  async exportOnnx(path: string): Promise<void> {
    this.checkIdle('exportOnnx');
    const file = checkString(path, 'path');
    this.buildFromDeclaredInput();
    await exportOnnx(this, file);
  }

  /** Saves the weights as Keras 3's `.weights.h5` (as Keras's `save_weights`), atomically. */
  async saveWeights(path: string): Promise<void> {
    this.checkIdle('saveWeights');
    const file = checkString(path, 'path');
    this.buildFromDeclaredInput();
    await saveWeightsH5(this, file);
  }

  /** Loads weights saved by `saveWeights` (or Keras's `save_weights`) for the same architecture. */
  async loadWeights(path: string): Promise<void> {
    this.checkIdle('loadWeights');
    const file = checkString(path, 'path');
    this.buildFromDeclaredInput();
    await loadWeightsH5(this, file);
  }

  /**
   * Prints Keras's summary table and returns it. As in TF.js, `printFn`
   * takes the lines instead of stdout, one call each. The table keeps Keras
   * 3's layout: `lineLength` and `positions` are refused unless undefined.
   */
  summary(lineLength?: number, positions?: number[], printFn?: (line: string) => void): string {
    this.checkUsable('summary');
    if (lineLength !== undefined || positions !== undefined) {
      const [name, value] = lineLength !== undefined ? ['lineLength', lineLength] : ['positions', positions];
      throw new FerroValueError(`Expected no ${name}: summary() prints Keras 3's table as Keras lays it out. Received: ${name}=${describe(value)}`);
    }
    if (printFn !== undefined && typeof printFn !== 'function') {
      throw new FerroTypeError(`Expected a function for printFn. Received: ${describe(printFn)}`);
    }
    const text = summarise({
      name: this.name,
      layers: this.layers,
      inputFeatures: this.inputFeatures,
      builtOptimizer: this.optimizerBuilt ? this.optimizer : undefined,
    });
    if (printFn) text.replace(/\n$/, '').split('\n').forEach((line) => printFn(line));
    else process.stdout.write(text);
    return text;
  }
}

/** Each weight as float32 data, after checking it has its shape in `shapes`. */
function checkedWeights(weights: readonly TensorLike[], shapes: readonly number[][]): Float32Array[] {
  return mapEntries(weights, (w, i) => {
    const t = toTensor(w, `weights[${i}]`);
    const want = shapes[i]!;
    if (t.shape.length !== want.length || t.shape.some((d, j) => d !== want[j])) {
      throw new FerroShapeError(`Expected weights[${i}] of shape [${want.join(', ')}]. Received: shape [${t.shape.join(', ')}]`);
    }
    return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
  });
}

/** The native compile's arguments: optimizer, loss and the metrics besides accuracy. */
function compileSpecs(
  optimizer: Optimizer,
  loss: Loss | LossName,
  metricNames: readonly MetricName[],
): Parameters<NativeModel['compile']> {
  return [optimizer.spec(), loss instanceof Loss ? loss.spec() : { name: loss }, [...metricNames]];
}
