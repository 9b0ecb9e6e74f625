/**
 * The streaming speech encoder: 16 kHz samples -> 20 ms frames -> linear "filterbank" + tanh ->
 * one pre-norm transformer layer attending over [cached frames ; new frames] (block-wise: no
 * causal mask inside a chunk, as InfiniSST's encoder) -> ×4 length shrink -> projection into the
 * decoder's embedding space. Tensor names follow docs/model-format.md.
 */
import { GraphBuilder } from './graph-builder.ts';
import { DataType } from './onnx-proto.ts';
import type { GraphSpec } from './onnx-proto.ts';
import { attention, gelu, geluMlp, keyValidity, linear, rmsNorm, rotaryTables } from './layers.ts';
import type { PresentOutput } from './layers.ts';
import { decoderDims, encoderDims } from './tiny-dimensions.ts';

/**
 * Builds encoder.onnx's graph; `seedPrefix` names the package whose weights these are and
 * `presentOutput` (default `'new'`) whether `present.*` repeats the past; `decoderHidden` is the
 * width of the decoder the speech embeddings feed.
 */
export function buildEncoderGraph(seedPrefix: string, presentOutput: PresentOutput = 'new', decoderHidden: number = decoderDims.hiddenSize): GraphSpec {
  const e = encoderDims;
  const b = new GraphBuilder('speech_encoder', `${seedPrefix}/encoder`);
  const cacheDims = ['batch', e.numHeads, 'past_frames', e.headDim] as const;
  const presentDims = ['batch', e.numHeads, presentOutput === 'full' ? 'total_frames' : 'new_frames', e.headDim] as const;

  const samples = b.input('input_values', DataType.FLOAT, ['batch', 'samples']);
  const attentionMask = b.input('attention_mask', DataType.INT64, ['batch', 'total_frames']);
  const positionIds = b.input('position_ids', DataType.INT64, ['batch', 'new_frames']);
  const past = Array.from({ length: e.numLayers }, (_, i) => ({
    key: b.input(`past_key_values.${i}.key`, DataType.FLOAT, cacheDims),
    value: b.input(`past_key_values.${i}.value`, DataType.FLOAT, cacheDims),
  }));

  const features = b.scoped('frontend', () => {
    const frames = b.op('Reshape', [samples, b.int64Constant([0, -1, e.samplesPerFrame])]); // [B, F, 320]
    // A high gain so that quiet speech (amplitude ~0.05) still moves the features; tanh keeps loud
    // audio bounded. The floor added after tanh keeps silence from mapping to an all-zero vector.
    const filterbank = b.op('Tanh', [linear(b, frames, 'filterbank', e.samplesPerFrame, e.modelDim, { gain: 8 })]);
    return b.op('Add', [filterbank, b.randomWeight('floor', [e.modelDim], 0.1)]);
  });

  const rotary = rotaryTables(b, positionIds, e.headDim);
  const allowed = keyValidity(b, attentionMask);
  let hidden = features;
  past.forEach((cache, i) => {
    hidden = b.scoped(`layers.${i}`, () => {
      const attended = attention(b, 'self_attn', {
        x: rmsNorm(b, hidden, 'attn_norm', e.modelDim),
        dModel: e.modelDim,
        numHeads: e.numHeads,
        headDim: e.headDim,
        rotary,
        pastKey: cache.key,
        pastValue: cache.value,
        allowed,
        presentKeyName: `present.${i}.key`,
        presentValueName: `present.${i}.value`,
        presentOutput,
        queryGain: e.queryGain,
        outputGain: e.outputGain,
      });
      const afterAttention = b.op('Add', [hidden, attended]);
      const mlp = geluMlp(b, rmsNorm(b, afterAttention, 'mlp_norm', e.modelDim), 'mlp', e.modelDim, e.mlpDim);
      return b.op('Add', [afterAttention, mlp]);
    });
  });

  b.scoped('shrink', () => {
    // Four consecutive frames side by side, then mixed: a stand-in for the strided conv stack.
    const normed = rmsNorm(b, hidden, 'norm', e.modelDim);
    const stacked = b.op('Reshape', [normed, b.int64Constant([0, -1, e.shrinkFactor * e.modelDim])]); // [B, F/4, 128]
    const mixed = gelu(b, linear(b, stacked, 'proj', e.shrinkFactor * e.modelDim, decoderHidden, { bias: 0.1 }));
    const projected = linear(b, mixed, 'to_decoder', decoderHidden, decoderHidden, { gain: 2 });
    b.op('Identity', [projected], { outputName: 'speech_embeddings' });
  });

  b.output('speech_embeddings', DataType.FLOAT, ['batch', 'embeddings', decoderHidden]);
  past.forEach((_, i) => {
    b.output(`present.${i}.key`, DataType.FLOAT, presentDims);
    b.output(`present.${i}.value`, DataType.FLOAT, presentDims);
  });
  return b.build();
}
