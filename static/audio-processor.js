// AudioWorklet module loaded by the page (Electron path) as processor 'pcm-processor'.
// It posts each 128-sample render quantum of channel 0 to the main thread, which re-blocks,
// resamples to 16 kHz and frames the audio (see electron-audio-fix.js). A copy is posted because
// the audio engine reuses its input buffers between calls.
class PcmProcessor extends AudioWorkletProcessor {
  process(inputs) {
    const input = inputs[0];
    const channel = input && input[0];
    if (channel && channel.length > 0) {
      const copy = new Float32Array(channel);
      this.port.postMessage(copy, [copy.buffer]);
    }
    // Keep the node alive even while the source is silent or disconnected.
    return true;
  }
}

registerProcessor('pcm-processor', PcmProcessor);
