// Compatibility helper for the ORIGINAL page (spec §3.2): a user who drops the original index.html
// into static/ gets this file from <script src="/static/electron-audio-fix.js">. The original page
// uses it only inside Electron (window.electronAPI present), as
//   const p = new ElectronAudioProcessor(); await p.initializeAudio(streamOrMediaElement, ws, 'microphone' | 'media'); ... p.stop();
// In a normal browser it only defines window.ElectronAudioProcessor.
// Audio path: AudioWorklet 'pcm-processor' (/static/audio-processor.js, 128-sample quanta of
// channel 0) → windowed-sinc resampling to 16 kHz (/static/app/resampler.js; the original
// decimated) → frames of 15 360 × window.currentLatencyMultiplier (default 2) float32 samples,
// sent as binary WebSocket messages; stop() sends the remainder zero-padded to a whole frame.
(function () {
  'use strict';
  if (typeof window === 'undefined' || window.ElectronAudioProcessor) return;

  var TARGET_RATE_HZ = 16000;
  var BASE_FRAME_SAMPLES = 15360;
  var MODULE_ATTEMPTS = 3;

  function frameSamples() {
    var multiplier = Number(window.currentLatencyMultiplier);
    return BASE_FRAME_SAMPLES * (Number.isInteger(multiplier) && multiplier > 0 ? multiplier : 2);
  }

  function wait(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function ElectronAudioProcessor() {
    this.audioContext = null;
    this.workletNode = null;
    this.sourceNode = null;
    this.ws = null;
    this.isProcessing = false;
    this.resampler = null;
    this.pending = new Float32Array(0);
    this.chunksSentCount = 0;
  }

  /** Starts capturing `audioSource` (a MediaStream, or a media element for 'media'). Resolves true. */
  ElectronAudioProcessor.prototype.initializeAudio = async function (audioSource, websocket, sourceType) {
    var kind = sourceType || 'microphone';
    this.ws = websocket;
    this.pending = new Float32Array(0);
    this.chunksSentCount = 0;
    try {
      var resamplerModule = await import('/static/app/resampler.js');
      this.audioContext = new AudioContext({ sampleRate: 48000 });
      if (this.audioContext.state === 'suspended') await this.audioContext.resume();
      this.resampler = new resamplerModule.StreamResampler(this.audioContext.sampleRate, TARGET_RATE_HZ);
      var lastError = null;
      for (var attempt = 1; attempt <= MODULE_ATTEMPTS; attempt++) {
        try {
          await this.audioContext.audioWorklet.addModule('/static/audio-processor.js');
          lastError = null;
          break;
        } catch (error) {
          lastError = error;
          await wait(200);
        }
      }
      if (lastError) throw lastError;
      this.workletNode = new window.AudioWorkletNode(this.audioContext, 'pcm-processor');
      this.workletNode.port.onmessage = (event) => {
        if (this.isProcessing && event.data) this.addSamples(event.data);
      };
      if (kind === 'media') {
        this.sourceNode = this.audioContext.createMediaElementSource(audioSource);
        // A media element routed into a graph is only audible through it.
        this.sourceNode.connect(this.audioContext.destination);
      } else {
        this.sourceNode = this.audioContext.createMediaStreamSource(audioSource);
      }
      this.sourceNode.connect(this.workletNode);
      var mute = this.audioContext.createGain();
      mute.gain.value = 0;
      this.workletNode.connect(mute);
      mute.connect(this.audioContext.destination);
      this.isProcessing = true;
      return true;
    } catch (error) {
      this.cleanup();
      throw new Error('Audio capture could not start: ' + (error && error.message ? error.message : error));
    }
  };

  ElectronAudioProcessor.prototype.addSamples = function (quantum) {
    this.append(this.resampler.process(quantum));
  };

  ElectronAudioProcessor.prototype.append = function (samples) {
    var merged = new Float32Array(this.pending.length + samples.length);
    merged.set(this.pending);
    merged.set(samples, this.pending.length);
    this.pending = merged;
    var size = frameSamples();
    while (this.pending.length >= size) {
      this.send(this.pending.slice(0, size));
      this.pending = this.pending.slice(size);
    }
  };

  ElectronAudioProcessor.prototype.send = function (frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(frame.buffer);
      this.chunksSentCount++;
    }
  };

  /** Stops capturing; the remaining audio is sent as one zero-padded frame. */
  ElectronAudioProcessor.prototype.stop = function () {
    if (this.isProcessing && this.resampler) {
      this.isProcessing = false;
      this.append(this.resampler.flush());
      if (this.pending.length > 0) {
        var frame = new Float32Array(frameSamples());
        frame.set(this.pending);
        this.send(frame);
      }
    }
    this.cleanup();
  };

  ElectronAudioProcessor.prototype.cleanup = function () {
    this.isProcessing = false;
    this.pending = new Float32Array(0);
    this.ws = null;
    if (this.sourceNode) {
      try { this.sourceNode.disconnect(); } catch { /* already disconnected */ }
    }
    if (this.workletNode) {
      try { this.workletNode.disconnect(); } catch { /* already disconnected */ }
      this.workletNode.port.onmessage = null;
    }
    if (this.audioContext && this.audioContext.state !== 'closed') this.audioContext.close().catch(function () {});
    this.sourceNode = null;
    this.workletNode = null;
    this.audioContext = null;
    this.resampler = null;
  };

  window.ElectronAudioProcessor = ElectronAudioProcessor;
})();
