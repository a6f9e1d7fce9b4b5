/**
 * Keras 3's `.keras` archive (metadata.json, config.json, model.weights.h5
 * in a zip) and its weights-only `.weights.h5` file, both ways.
 */

import { FerroStateError, FerroValueError } from '../errors.js';
import type { Layer } from '../layer.js';
import type { Loss } from '../losses.js';
import type { Optimizer } from '../optimizers.js';
import { Sequential } from '../sequential.js';
import type { LossName, MetricName } from '../sequential-options.js';
import { layerShapes, sizeOf } from '../shapes.js';
import { Tensor } from '../tensor.js';
import { checkString } from '../validate.js';
import { writeAtomically } from './atomic-write.js';
import { member, readWhole, unzipMembers, zip } from './files.js';
import { type H5Objects, readH5, writeH5 } from './h5.js';
import { parseJson } from './json.js';
import { npzReader } from './npz.js';
import type { VarReader } from './vars.js';
import {
  layerFromKeras,
  layerToKeras,
  lossFromKeras,
  lossToKeras,
  metricFromKeras,
  metricsToKeras,
  open,
  optimizerFromKeras,
  optimizerToKeras,
  pythonJson,
  policyFromKeras,
  policyToKeras,
} from './keras-config.js';
import { optimizerShapes, optimizerVars, stateFromVars } from './optimizer-vars.js';
import type { OptimizerState } from '../native.js';
import type { DTypePolicyName } from '../mixed-precision.js';

/** The Keras version whose format ferro-nn writes (and was tested against). */
const KERAS_VERSION = '3.15.1';

/** Largest config.json and metadata.json accepted (a real one is a few KB). */
const MAX_JSON = 16 * 2 ** 20;
/**
 * Largest weights file read: a bound on reading, not a size ferro-nn
 * handles. Each weight in HDF5 must be under 2 GiB (MAX_H5_WEIGHT_BYTES,
 * h5.ts), and Node 20 holds at most 4 GiB in one buffer, so a larger
 * archive is refused there when read.
 */
const MAX_WEIGHTS = 2 ** 34;

/** What saving needs of a model. */
export interface Saveable {
  readonly name: string;
  readonly layers: readonly Layer[];
  readonly built: boolean;
  getWeights(): Tensor<'float32'>[];
  /** @internal compile's arguments, when compiled. */
  compileConfig(): { optimizer: Optimizer; loss: Loss | LossName; metrics: readonly MetricName[] } | undefined;
  /** @internal the optimizer's step count and slots; `what` names the call in a refusal. */
  optimizerState(what?: string): OptimizerState;
  /** The learning rate of the next step. */
  readonly learningRate: number;
  /** The dtype policy, saved on every layer as Keras does. */
  readonly dtypePolicy: DTypePolicyName;
}

/** The shapes of the trainable tensors, in order. */
function trainableShapes(layers: readonly Layer[]): number[][] {
  return layers.flatMap((l) => l.weightShapes(l.builtInputDim!).slice(0, l.trainableCount(l.builtInputDim!)));
}

/** The optimizer's variables, when the model is compiled. */
function optimizerObjects(model: Saveable): H5Objects {
  const compiled = model.compileConfig();
  if (!compiled) return [];
  const o = compiled.optimizer;
  const rate = typeof o.learningRate === 'number' ? model.learningRate : undefined;
  const vars = optimizerVars(o.className, model.optimizerState(), trainableShapes(model.layers), rate);
  return [['optimizer', o.className.toLowerCase(), vars]];
}

/**
 * Where Keras keeps each layer's variables: not under the layer's name but
 * under its class in snake case, numbered per class in layer order
 * ('layers/dense', 'layers/dense_1', 'layers/dropout', …), so weights move
 * between models whose layers are named differently.
 */
function layerPaths(layers: readonly Layer[]): string[] {
  const seen = new Map<string, number>();
  return layers.map((layer) => {
    const snake = layer.className.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
    const n = seen.get(snake) ?? 0;
    seen.set(snake, n + 1);
    return `layers/${n === 0 ? snake : `${snake}_${n}`}`;
  });
}

/** Each layer's weights, in Keras's layout. */
function layerObjects(model: Saveable): H5Objects {
  const weights = model.getWeights();
  const paths = layerPaths(model.layers);
  let at = 0;
  const objects: H5Objects = [['', model.name, []]];
  model.layers.forEach((layer, i) => {
    const n = layer.weightShapes(layer.builtInputDim!).length;
    const vars = weights.slice(at, at + n).map((w) => ({ shape: [...w.shape], data: w.data }));
    at += n;
    objects.push([paths[i]!, layer.name, vars]);
  });
  return objects;
}

function requireBuilt(model: Saveable, what: string): void {
  if (!model.built) {
    throw new FerroStateError(`The model is not built yet: build or fit it before ${what}().`);
  }
}

/** Keras's config.json of a built model. */
function modelConfig(model: Saveable): Record<string, unknown> {
  const inputDim = model.layers[0]!.builtInputDim!;
  const dtype = policyToKeras(model.dtypePolicy);
  // Keras refuses a model with two operations of one name: the InputLayer
  // takes Keras's default name, numbered as Keras numbers it, that no layer has.
  const taken = new Set(model.layers.map((l) => l.name));
  let inputName = 'input_layer';
  for (let i = 1; taken.has(inputName); i++) inputName = `input_layer_${i}`;
  const input = {
    module: 'keras.layers',
    class_name: 'InputLayer',
    config: { batch_shape: [null, inputDim], dtype: 'float32', sparse: false, ragged: false, name: inputName, optional: false },
    registered_name: null,
  };
  const compiled = model.compileConfig();
  return {
    module: 'keras',
    class_name: 'Sequential',
    config: {
      name: model.name,
      trainable: true,
      dtype,
      layers: [input, ...model.layers.map((l) => layerToKeras(l, l.builtInputDim!, model.dtypePolicy))],
      build_input_shape: [null, inputDim],
    },
    registered_name: null,
    build_config: { input_shape: [null, inputDim] },
    compile_config: compiled && {
      optimizer: optimizerToKeras(compiled.optimizer),
      loss: lossToKeras(compiled.loss),
      loss_weights: null,
      metrics: metricsToKeras(compiled.metrics),
      weighted_metrics: null,
      run_eagerly: false,
      steps_per_execution: 1,
      jit_compile: false,
    },
  };
}

/** Writes `model` as a Keras 3 `.keras` archive at `path`, atomically. */
export async function saveKeras(model: Saveable, path: string): Promise<void> {
  requireBuilt(model, 'save');
  const encode = (v: unknown): Uint8Array => new TextEncoder().encode(pythonJson(v));
  // Everything is taken in this first tick: a compile() or fit() the caller
  // starts before awaiting must not reach the file, half of it or at all.
  const objects = [...layerObjects(model), ...optimizerObjects(model)];
  const config = encode(modelConfig(model));
  const metadata = encode({ keras_version: KERAS_VERSION, date_saved: new Date().toISOString(), saved_by: 'ferro-nn' });
  const weights = await writeH5(objects);
  await writeAtomically(path, zip({ 'metadata.json': metadata, 'config.json': config, 'model.weights.h5': weights }));
}

/**
 * Writes the model's weights as Keras 3's `.weights.h5`, atomically; as in
 * Keras, a compiled model's optimizer variables go with them.
 */
export async function saveWeightsH5(model: Saveable, path: string): Promise<void> {
  requireBuilt(model, 'saveWeights');
  if (!path.endsWith('.weights.h5')) {
    throw new FerroValueError(`Expected a path ending in .weights.h5, as Keras 3 names weight files. Received: ${path}`);
  }
  // Taken in this first tick, as in saveKeras.
  const objects = [...layerObjects(model), ...optimizerObjects(model)];
  await writeAtomically(path, await writeH5(objects));
}

/** A weights file in Keras's layout, opened for one reading. */
type WeightsFile = <T>(use: (r: VarReader) => T) => Promise<T>;

/**
 * Reads and checks, from Keras's layout, each layer's weights for `model`
 * (built) and, when it is compiled, the optimizer's state (see
 * `savedOptimizer`); changes nothing, but returns what puts them in place,
 * so that a file that fails any check leaves the model as it was.
 */
function readWeights(model: Sequential, r: VarReader, skipOthers: boolean): () => void {
  const paths = layerPaths(model.layers);
  const optimizer = model.compileConfig()?.optimizer;
  const tensors = model.layers.flatMap((layer, l) => {
    const shapes = layer.weightShapes(layer.builtInputDim!);
    return r.vars(paths[l]!, shapes, `layer '${layer.name}'`).map((data, i) => new Tensor(data, shapes[i]!));
  });
  const restore = optimizer && savedOptimizer(model, optimizer, skipOthers).read(r);
  return () => {
    model.setWeights(tensors);
    restore?.();
  };
}

/**
 * Replaces the weights of a built `model` with those of a Keras
 * `.weights.h5` file; when the model is compiled and the file holds
 * variables for the same optimizer, its state too (as Keras's load_weights;
 * variables for another optimizer are skipped, as Keras skips them).
 */
export async function loadWeightsH5(model: Sequential, path: string): Promise<void> {
  requireBuilt(model, 'loadWeights');
  const bytes = await readWhole(path, weightsLimit(model.countParams()));
  const apply = await readH5(bytes, path, (r) => readWeights(model, r, true));
  apply();
}

/** The model of a Keras 3 `.keras` archive: architecture, weights and compile settings. */
export async function loadKeras(path: string): Promise<Sequential> {
  // typeof only: a Proxy's traps never run, and a non-string is a type error as in save().
  checkString(path, 'path');
  const bytes = await readWhole(path, MAX_WEIGHTS + 2 * MAX_JSON);
  const head = unzipMembers(bytes, (name) => (name === 'config.json' ? MAX_JSON : undefined), path);
  const config = parseJson(member(head, 'config.json', path), `${path}: config.json`);
  const [className, r] = open(config, 'the model');
  if (className !== 'Sequential') {
    throw new FerroValueError(`ferro-nn loads Sequential models. Received: a ${className} in ${path}`);
  }
  const layerConfigs = r.get('layers');
  if (!Array.isArray(layerConfigs)) throw new FerroValueError(`${path}: the model's config has no layer list.`);
  let inputShape: number[] | undefined;
  const layers: Layer[] = [];
  for (const l of layerConfigs) {
    const [layerClass, lr] = open(l, 'a layer');
    if (layerClass === 'InputLayer') {
      const shape = lr.get('batch_shape') ?? lr.get('batch_input_shape');
      if (!Array.isArray(shape) || shape.length !== 2 || typeof shape[1] !== 'number') {
        throw new FerroValueError(`ferro-nn takes inputs of shape [null, features]. Received: batch_shape ${JSON.stringify(shape)}`);
      }
      inputShape = [shape[1]];
      continue;
    }
    const build = (l as { build_config?: { input_shape?: unknown } }).build_config?.input_shape;
    const first = layers.length === 0 ? (inputShape ?? (Array.isArray(build) ? [build.at(-1) as number] : undefined)) : undefined;
    layers.push(layerFromKeras(l, first));
  }
  const name = r.string('name');
  // ferro-nn applies one policy to the whole model: Keras's per-layer ones must agree.
  const policies = [...new Set(layerConfigs.filter((l) => (l as { class_name?: unknown }).class_name !== 'InputLayer').map(policyFromKeras))];
  if (policies.length > 1) {
    throw new FerroValueError(`ferro-nn applies one dtype policy per model. Received: layers with ${policies.join(' and ')} in ${path}`);
  }
  const model = new Sequential(layers, { ...(name === undefined ? {} : { name }), dtypePolicy: policies[0] ?? 'float32' });
  const features = layers[0]?.inputDim;
  if (features === undefined) throw new FerroValueError(`${path}: the model's input shape is not known (no InputLayer or build_config).`);
  const compile = (config as { compile_config?: Record<string, unknown> | null }).compile_config;
  const compiled = compile ? compileArgs(compile) : undefined;
  // Building and compiling allocate the weights and optimizer slots: before
  // that, the shapes the config implies are checked, without allocating,
  // against the weights file, so a few bytes of config cannot claim gigabytes.
  const shapes = impliedShapes(layers, features, path);
  const params = sizeOf(shapes.flat());
  // The weights are inflated only now, to at most what this model can need.
  const limit = weightsLimit(params);
  const members = unzipMembers(bytes, (name) => (name === 'model.weights.h5' || name === 'model.weights.npz' ? limit : undefined), path);
  // Keras writes h5 weights unless asked for npz (pickled, read by a restricted reader).
  const npz = members['model.weights.npz'];
  let weights: WeightsFile;
  if (npz) {
    weights = async (use) => use(npzReader(npz, `${path}: model.weights.npz`, limit));
  } else {
    const h5 = member(members, 'model.weights.h5', path);
    // An HDF5 dataset may declare a shape it stores nothing for (read as
    // fill values): the file must be large enough to hold every weight.
    if (h5.length < 4 * params) {
      throw new FerroValueError(
        `Expected a model.weights.h5 of at least ${4 * params} bytes for the ${params} float32 weights config.json describes. Received: ${h5.length} bytes in ${path}`,
      );
    }
    weights = (use) => readH5(h5, `${path}: model.weights.h5`, use);
  }
  const apply = await weights((r) => {
    const paths = layerPaths(layers);
    layers.forEach((layer, l) => r.check(paths[l]!, shapes[l]!, `layer '${layer.name}'`));
    model.build([null, features]);
    if (compiled) model.compile(compiled);
    return readWeights(model, r, false);
  });
  apply();
  return model;
}

/** Each layer's weight shapes for inputs of `features`, computed without building anything. */
function impliedShapes(layers: readonly Layer[], features: number, path: string): number[][][] {
  if (!Number.isSafeInteger(features) || features < 1) {
    throw new FerroValueError(`Expected a positive whole number of input features. Received: ${features} in ${path}`);
  }
  return layerShapes(layers, features).map((l) => l.shapes);
}

/** compile()'s arguments from Keras's compile_config. */
function compileArgs(compile: Record<string, unknown>): { optimizer: Optimizer; loss: Loss; metrics: MetricName[] } {
  const metrics = compile.metrics ?? [];
  if (!Array.isArray(metrics)) {
    throw new FerroValueError(`Expected a list of metrics in compile_config. Received: ${JSON.stringify(metrics).slice(0, 120)}`);
  }
  const loss = lossFromKeras(compile.loss);
  const optimizer = optimizerFromKeras(compile.optimizer);
  return { optimizer, loss: loss as Loss, metrics: metrics.map(metricFromKeras) as MetricName[] };
}

/**
 * The most bytes a model's weights file may take for a model of `params`
 * parameters: each in float64 (the widest the readers take) with up to three
 * optimizer slots (Adam with AMSGrad keeps three), and 16 MiB for the file's
 * own structure. The config is read first, so a damaged or hostile archive
 * cannot make the loader inflate more than the model it describes could use.
 */
function weightsLimit(params: number): number {
  return Math.min(MAX_WEIGHTS, 8 * 4 * params + 16 * 2 ** 20);
}

/**
 * The compiled `optimizer`'s saved variables (`vars`) and how to restore
 * its step count, learning rate and slots from them (`restore`), so that
 * training resumes where it stopped. A file whose optimizer never stepped
 * (Keras then keeps only iteration and learning_rate) restores those two.
 * With `skipOthers`, variables of another optimizer are left unread.
 */
function savedOptimizer(model: Sequential, optimizer: Optimizer, skipOthers: boolean) {
  // Only loading reads the slots here: a refusal names loadWeights.
  const fresh = model.optimizerState('loadWeights');
  const slotNames = [...new Set(fresh.slots.map((s) => s.name))];
  const hasRate = typeof optimizer.learningRate === 'number';
  const shapes = trainableShapes(model.layers);
  const full = optimizerShapes(optimizer.className, slotNames, shapes, hasRate);
  return {
    /** What restores the saved state, all of it checked; undefined when the file holds none to restore. */
    read(r: VarReader): (() => void) | undefined {
      const n = r.count('optimizer');
      if (n === 0) return undefined;
      if (skipOthers && n !== full.length && n !== (hasRate ? 2 : 1)) return undefined;
      const expected = n === full.length ? full : full.slice(0, hasRate ? 2 : 1);
      const saved = r.vars('optimizer', expected, 'the optimizer', true);
      const counts = saved.length === full.length;
      const { state, learningRate } = stateFromVars(optimizer.className, slotNames, shapes.length, saved, hasRate);
      if (learningRate !== undefined && !(Number.isFinite(learningRate) && learningRate >= 0)) {
        throw new FerroValueError(`Expected a finite, non-negative saved learning rate. Received: ${learningRate}`);
      }
      return () => {
        model.setOptimizerState(counts ? state : { ...state, slots: [], uProduct: fresh.uProduct });
        if (learningRate !== undefined) model.learningRate = learningRate;
      };
    },
  };
}
