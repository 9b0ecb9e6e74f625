/**
 * A minimal protobuf wire-format writer: just what ONNX serialisation needs (varints, 32-bit
 * floats, length-delimited bytes/strings/messages and packed repeated scalars). Writing the format
 * ourselves keeps model generation free of Python and of a protobuf dependency.
 *
 * Wire format reference: https://protobuf.dev/programming-guides/encoding/
 */

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

/** Appends protobuf fields to a growable byte buffer; `finish()` returns the encoded message. */
export class ProtoWriter {
  private buffer = new Uint8Array(256);
  private length = 0;

  /** Field of wire type 0 (int32, int64, enum, bool). Negative values use 64-bit two's complement as protobuf requires. */
  varintField(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(value);
    return this;
  }

  /** Field of wire type 5 holding an IEEE-754 single, little-endian. */
  floatField(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    this.rawFloat32(value);
    return this;
  }

  bytesField(field: number, bytes: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.rawVarint(bytes.length);
    this.rawBytes(bytes);
    return this;
  }

  stringField(field: number, text: string): this {
    return this.bytesField(field, new TextEncoder().encode(text));
  }

  /** Embedded message: encoded into its own writer first because its length prefix comes before it. */
  messageField(field: number, write: (writer: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    write(inner);
    return this.bytesField(field, inner.finish());
  }

  /** Packed repeated int32/int64: one length-delimited field holding every varint. */
  packedVarintField(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const value of values) inner.rawVarint(value);
    return this.bytesField(field, inner.finish());
  }

  /** Packed repeated float: one length-delimited field holding 4 bytes per value. */
  packedFloatField(field: number, values: readonly number[]): this {
    const inner = new ProtoWriter();
    for (const value of values) inner.rawFloat32(value);
    return this.bytesField(field, inner.finish());
  }

  /** The bytes written so far (a copy trimmed to length). */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  private tag(field: number, wireType: number): void {
    if (!Number.isInteger(field) || field < 1) throw new Error(`invalid protobuf field number ${field}`);
    this.rawVarint(field * 8 + wireType);
  }

  private rawVarint(value: number | bigint): void {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new Error(`varint value ${value} is not a safe integer`);
    }
    let rest = BigInt.asUintN(64, BigInt(value));
    do {
      const low = Number(rest & 0x7fn);
      rest >>= 7n;
      this.pushByte(rest === 0n ? low : low | 0x80);
    } while (rest !== 0n);
  }

  private rawFloat32(value: number): void {
    this.ensure(4);
    new DataView(this.buffer.buffer).setFloat32(this.length, value, true);
    this.length += 4;
  }

  private rawBytes(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  private pushByte(byte: number): void {
    this.ensure(1);
    this.buffer[this.length] = byte;
    this.length += 1;
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }
}
