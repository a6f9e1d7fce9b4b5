/**
 * ONNX export of a Sequential model's inference graph (opset 13), for
 * serving with onnxruntime and the like. The protobuf messages come from
 * onnx-proto (ONNX's own onnx.proto compiled by protobufjs), loaded on
 * first use.
 *
 * Each layer becomes standard operators: Dense is Gemm (x·W + b), then its
 * activation; BatchNormalization is BatchNormalization with the moving
 * statistics (inference mode); Dropout is dropped (it is the identity in
 * inference); gelu (exact) is composed from Erf, silu from Sigmoid and Mul.
 */

import { FerroStateError, FerroValueError } from '../errors.js';
import type { Layer } from '../layer.js';
import type { Tensor } from '../tensor.js';
import { writeAtomically } from './atomic-write.js';

/** What exporting needs of a model. */
export interface Exportable {
  readonly name: string;
  readonly layers: readonly Layer[];
  readonly built: boolean;
  getWeights(): Tensor<'float32'>[];
}

const OPSET = 13;
const FLOAT = 1;

interface Node {
  opType: string;
  input: string[];
  output: string[];
  name: string;
  attribute?: { name: string; type: number; f?: number; i?: number }[];
}

interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}

/** Builds the graph's nodes and initializers, naming tensors as it goes. */
class Graph {
  readonly nodes: Node[] = [];
  readonly initializers: Initializer[] = [];
  private count = 0;

  constructor(private current: string) {}

  get output(): string {
    return this.current;
  }

  constant(name: string, dims: number[], data: Float32Array): string {
    const bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: bytes });
    return name;
  }

  /** Appends `opType` on the current tensor (and `extra` inputs); the result becomes current. */
  op(opType: string, extra: string[] = [], attribute?: Node['attribute'], input?: string[]): string {
    const out = `${opType.toLowerCase()}_${this.count++}`;
    this.nodes.push({ opType, input: input ?? [this.current, ...extra], output: [out], name: out, ...(attribute ? { attribute } : {}) });
    this.current = out;
    return out;
  }

  scalar(name: string, value: number): string {
    return this.constant(`${name}_${this.count++}`, [], Float32Array.of(value));
  }
}

const FLOAT_ATTR = 1;
const INT_ATTR = 2;

/** The activation `name` applied to the graph's current tensor. */
function activation(g: Graph, name: string, where: string): void {
  const f = (n: string, v: number) => ({ name: n, type: FLOAT_ATTR, f: v });
  switch (name) {
    case 'linear':
      return;
    case 'relu':
      g.op('Relu');
      return;
    case 'sigmoid':
      g.op('Sigmoid');
      return;
    case 'tanh':
      g.op('Tanh');
      return;
    case 'softmax':
      g.op('Softmax', [], [{ name: 'axis', type: INT_ATTR, i: -1 }]);
      return;
    case 'elu':
      g.op('Elu', [], [f('alpha', 1)]);
      return;
    case 'selu':
      g.op('Selu', [], [f('alpha', 1.6732632423543772), f('gamma', 1.0507009873554805)]);
      return;
    case 'leaky_relu':
      g.op('LeakyRelu', [], [f('alpha', 0.2)]);
      return;
    case 'softplus':
      g.op('Softplus');
      return;
    case 'softsign':
      g.op('Softsign');
      return;
    case 'relu6':
      g.op('Clip', [g.scalar('zero', 0), g.scalar('six', 6)]);
      return;
    case 'hard_sigmoid':
      // Keras 3's relu6(x + 3) / 6 = clip(x/6 + 1/2, 0, 1).
      g.op('HardSigmoid', [], [f('alpha', 1 / 6), f('beta', 0.5)]);
      return;
    case 'gelu': {
      // x · ½(1 + erf(x/√2)), Keras's exact gelu.
      const x = g.output;
      g.op('Div', [g.scalar('sqrt2', Math.SQRT2)]);
      g.op('Erf');
      g.op('Add', [g.scalar('one', 1)]);
      g.op('Mul', [g.scalar('half', 0.5)]);
      g.op('Mul', [], undefined, [x, g.output]);
      return;
    }
    case 'silu':
    case 'swish': {
      const x = g.output;
      g.op('Sigmoid');
      g.op('Mul', [], undefined, [x, g.output]);
      return;
    }
    default:
      throw new FerroValueError(`Cannot export the activation '${name}' (${where}) to ONNX.`);
  }
}

/** The ONNX bytes of `model`'s inference graph. */
export function onnxBytes(model: Exportable): Promise<Uint8Array> {
  // The graph, weights included, is built in the call's first tick, before
  // onnx-proto loads: a fit() started right after must not reach the file.
  const proto = onnxProto(model);
  return (async () => {
    const mod = (await import('onnx-proto')) as typeof import('onnx-proto') & { default?: typeof import('onnx-proto') };
    const onnx = mod.onnx ?? mod.default!.onnx;
    return onnx.ModelProto.encode(onnx.ModelProto.create(proto)).finish();
  })();
}

/** The fields of `model`'s ONNX ModelProto, as plain objects. */
function onnxProto(model: Exportable) {
  if (!model.built) throw new FerroStateError('The model is not built yet: build or fit it before exportOnnx().');
  const weights = model.getWeights();
  const g = new Graph('input');
  let at = 0;
  for (const layer of model.layers) {
    const d = layer.builtInputDim!;
    const n = layer.weightShapes(d).length;
    const w = weights.slice(at, at + n).map((t) => t.data as Float32Array);
    at += n;
    const units = layer.outputDim(d);
    const l = layer as unknown as { activation?: string; useBias?: boolean; scale?: boolean; center?: boolean; epsilon?: number };
    switch (layer.className) {
      case 'Dense': {
        const kernel = g.constant(`${layer.name}/kernel`, [d, units], w[0]!);
        const inputs = [kernel];
        if (l.useBias) inputs.push(g.constant(`${layer.name}/bias`, [units], w[1]!));
        g.op('Gemm', inputs);
        activation(g, l.activation!, `layer '${layer.name}'`);
        break;
      }
      case 'Activation':
        activation(g, l.activation!, `layer '${layer.name}'`);
        break;
      case 'Dropout':
        break;
      case 'BatchNormalization': {
        let k = 0;
        const gamma = l.scale ? w[k++]! : new Float32Array(d).fill(1);
        const beta = l.center ? w[k++]! : new Float32Array(d);
        const [mean, variance] = [w[k++]!, w[k++]!];
        const names = [
          g.constant(`${layer.name}/gamma`, [d], gamma),
          g.constant(`${layer.name}/beta`, [d], beta),
          g.constant(`${layer.name}/moving_mean`, [d], mean),
          g.constant(`${layer.name}/moving_variance`, [d], variance),
        ];
        g.op('BatchNormalization', names, [{ name: 'epsilon', type: FLOAT_ATTR, f: l.epsilon! }]);
        break;
      }
      default:
        throw new FerroValueError(`Cannot export a ${layer.className} layer to ONNX.`);
    }
  }
  // The graph's output is called 'output', as its input is 'input'.
  if (g.nodes.length === 0) g.op('Identity');
  g.nodes.at(-1)!.output = ['output'];
  const features = model.layers[0]!.builtInputDim!;
  const outputs = model.layers.at(-1)!.outputDim(model.layers.at(-1)!.builtInputDim!);
  const valueInfo = (name: string, width: number) => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } } },
  });
  return {
    irVersion: 8,
    producerName: 'ferro-nn',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: model.name,
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo('input', features)],
      output: [valueInfo('output', outputs)],
    },
  };
}

/** Writes the ONNX model to `path`, atomically. */
export async function exportOnnx(model: Exportable, path: string): Promise<void> {
  const bytes = onnxBytes(model);
  await writeAtomically(path, await bytes);
}
