/**
 * Builds an ONNX graph one node at a time with readable names. Values and nodes get names from
 * the current scope (e.g. `layers.1.attn/MatMul_12`); weights are initializers drawn from a
 * deterministic stream named after the package and the weight, so names double as seeds.
 */
import { DataType } from './onnx-proto.ts';
import type { Attribute, DataTypeCode, Dim, GraphSpec, NodeSpec, TensorInit, ValueInfo } from './onnx-proto.ts';
import { normalArray } from './random.ts';

export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly initializers: TensorInit[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly constantCache = new Map<string, string>();
  private readonly usedNames = new Set<string>();
  private readonly scopes: string[] = [];
  private nodeCounter = 0;

  /** `seedPrefix` (the package name) keeps the weights of different packages independent. */
  constructor(
    private readonly graphName: string,
    private readonly seedPrefix: string,
  ) {}

  /** Declares a graph input; returns its value name. */
  input(name: string, elemType: DataTypeCode, dims: readonly Dim[]): string {
    this.claim(name);
    this.inputs.push({ name, elemType, dims });
    return name;
  }

  /** Declares a graph output; a node must produce a value of exactly this name. */
  output(name: string, elemType: DataTypeCode, dims: readonly Dim[]): void {
    this.outputs.push({ name, elemType, dims });
  }

  /** Runs `build` with `scope` appended to the names of everything it creates. */
  scoped<T>(scope: string, build: () => T): T {
    this.scopes.push(scope);
    try {
      return build();
    } finally {
      this.scopes.pop();
    }
  }

  /** A float32 initializer of N(0, std²) values, seeded by the package and its scoped name. */
  randomWeight(name: string, dims: readonly number[], std: number): string {
    const fullName = this.scopedName(name, '.');
    const count = dims.reduce((a, b) => a * b, 1);
    return this.addInitializer(fullName, DataType.FLOAT, dims, float32Bytes(normalArray(`${this.seedPrefix}/${fullName}`, count, std)));
  }

  /** A float32 initializer with the given values (scoped name). */
  floatWeight(name: string, dims: readonly number[], values: Float32Array): string {
    return this.addInitializer(this.scopedName(name, '.'), DataType.FLOAT, dims, float32Bytes(values));
  }

  /** A shared float32 constant; a 0-d scalar when `dims` is empty. */
  floatConstant(values: readonly number[], dims: readonly number[] = []): string {
    const key = `f32:${dims.join('x')}:${values.join(',')}`;
    return this.cachedConstant(key, DataType.FLOAT, dims, float32Bytes(Float32Array.from(values)));
  }

  /** A shared int64 constant (shapes, axes, indices); a 0-d scalar when `dims` is empty. */
  int64Constant(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    return this.cachedConstant(key, DataType.INT64, dims, int64Bytes(values));
  }

  /** Adds a single-output node; returns the output value name (`outputName` or a generated one). */
  op(opType: string, inputs: readonly string[], options: { attributes?: readonly Attribute[]; outputName?: string } = {}): string {
    this.nodeCounter += 1;
    const nodeName = this.scopedName(`${opType}_${this.nodeCounter}`, '/');
    const output = options.outputName ?? nodeName;
    this.claim(output);
    this.nodes.push({ name: nodeName, opType, inputs, outputs: [output], attributes: options.attributes ?? [] });
    return output;
  }

  build(): GraphSpec {
    const produced = new Set(this.nodes.flatMap((node) => node.outputs));
    for (const output of this.outputs) {
      if (!produced.has(output.name)) throw new Error(`graph ${this.graphName}: output ${output.name} is never produced`);
    }
    return { name: this.graphName, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs };
  }

  private cachedConstant(key: string, dataType: DataTypeCode, dims: readonly number[], bytes: Uint8Array): string {
    const existing = this.constantCache.get(key);
    if (existing !== undefined) return existing;
    const name = this.addInitializer(`const_${this.constantCache.size}`, dataType, dims, bytes);
    this.constantCache.set(key, name);
    return name;
  }

  private addInitializer(name: string, dataType: DataTypeCode, dims: readonly number[], rawData: Uint8Array): string {
    this.claim(name);
    this.initializers.push({ name, dataType, dims, rawData });
    return name;
  }

  private scopedName(name: string, separator: string): string {
    return this.scopes.length === 0 ? name : `${this.scopes.join('.')}${separator}${name}`;
  }

  private claim(name: string): void {
    if (this.usedNames.has(name)) throw new Error(`graph ${this.graphName}: value name ${name} used twice`);
    this.usedNames.add(name);
  }
}

function float32Bytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => view.setFloat32(i * 4, value, true));
  return bytes;
}

function int64Bytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => view.setBigInt64(i * 8, BigInt(value), true));
  return bytes;
}
