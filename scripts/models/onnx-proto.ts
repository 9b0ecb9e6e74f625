/**
 * Plain data types for the part of ONNX we emit, and their protobuf encoding. Field numbers are
 * those of onnx.proto3 (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto3); only the fields
 * the generator needs are written, always in the same order, so the bytes are reproducible.
 */
import { ProtoWriter } from './protobuf-writer.ts';

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT64: 7, BOOL: 9 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** A dimension is either fixed (number) or symbolic (dim_param, e.g. "batch"). */
export type Dim = number | string;

export interface TensorInit {
  name: string;
  dataType: DataTypeCode;
  dims: readonly number[];
  /** Little-endian element bytes (TensorProto.raw_data). */
  rawData: Uint8Array;
}

export type Attribute =
  | { name: string; kind: 'int'; value: number }
  | { name: string; kind: 'float'; value: number }
  | { name: string; kind: 'ints'; value: readonly number[] };

export interface NodeSpec {
  name: string;
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: readonly Attribute[];
}

export interface ValueInfo {
  name: string;
  elemType: DataTypeCode;
  dims: readonly Dim[];
}

export interface GraphSpec {
  name: string;
  nodes: readonly NodeSpec[];
  initializers: readonly TensorInit[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
}

export interface ModelSpec {
  irVersion: number;
  opsetVersion: number;
  producerName: string;
  producerVersion: string;
  docString: string;
  graph: GraphSpec;
}

// AttributeProto.AttributeType
const ATTRIBUTE_TYPE = { float: 1, int: 2, ints: 7 } as const;

/** Serialises a model to ONNX protobuf bytes (ModelProto). */
export function encodeModel(model: ModelSpec): Uint8Array {
  const w = new ProtoWriter();
  w.varintField(1, model.irVersion); // ir_version
  w.stringField(2, model.producerName); // producer_name
  w.stringField(3, model.producerVersion); // producer_version
  w.stringField(6, model.docString); // doc_string
  w.messageField(7, (g) => writeGraph(g, model.graph)); // graph
  // opset_import: the default ("") domain, whose empty domain string is simply omitted.
  w.messageField(8, (o) => o.varintField(2, model.opsetVersion));
  return w.finish();
}

function writeGraph(w: ProtoWriter, graph: GraphSpec): void {
  for (const node of graph.nodes) w.messageField(1, (n) => writeNode(n, node));
  w.stringField(2, graph.name);
  for (const tensor of graph.initializers) w.messageField(5, (t) => writeTensor(t, tensor));
  for (const input of graph.inputs) w.messageField(11, (v) => writeValueInfo(v, input));
  for (const output of graph.outputs) w.messageField(12, (v) => writeValueInfo(v, output));
}

function writeNode(w: ProtoWriter, node: NodeSpec): void {
  for (const input of node.inputs) w.stringField(1, input);
  for (const output of node.outputs) w.stringField(2, output);
  w.stringField(3, node.name);
  w.stringField(4, node.opType);
  for (const attribute of node.attributes) w.messageField(5, (a) => writeAttribute(a, attribute));
}

function writeAttribute(w: ProtoWriter, attribute: Attribute): void {
  w.stringField(1, attribute.name);
  switch (attribute.kind) {
    case 'float':
      w.floatField(2, attribute.value);
      break;
    case 'int':
      w.varintField(3, attribute.value);
      break;
    case 'ints':
      w.packedVarintField(8, attribute.value);
      break;
  }
  w.varintField(20, ATTRIBUTE_TYPE[attribute.kind]); // type
}

function writeTensor(w: ProtoWriter, tensor: TensorInit): void {
  if (tensor.dims.length > 0) w.packedVarintField(1, tensor.dims); // dims
  w.varintField(2, tensor.dataType); // data_type
  w.stringField(8, tensor.name); // name
  w.bytesField(9, tensor.rawData); // raw_data
}

function writeValueInfo(w: ProtoWriter, info: ValueInfo): void {
  w.stringField(1, info.name);
  // type -> TypeProto.tensor_type -> { elem_type, shape -> dim* }
  w.messageField(2, (type) =>
    type.messageField(1, (tensorType) => {
      tensorType.varintField(1, info.elemType);
      tensorType.messageField(2, (shape) => {
        for (const dim of info.dims) {
          shape.messageField(1, (d) => (typeof dim === 'number' ? d.varintField(1, dim) : d.stringField(2, dim)));
        }
      });
    }),
  );
}
