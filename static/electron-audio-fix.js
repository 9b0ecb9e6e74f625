// Audio capture helper used by the original page only inside Electron (window.electronAPI).
// In a normal browser it only defines window.ElectronAudioProcessor and does nothing else.
// Pipeline (spec §3.2): AudioWorklet 'pcm-processor' quanta → blocks of 4096 → decimation to
// 16 kHz → frames of 15360 × multiplier float32 samples sent as binary WebSocket messages.
(function () {
  'use strict';
  if (typeof window === 'undefined' || window.ElectronAudioProcessor) return;

  var TARGET_RATE = 16000;
  var BLOCK = 4096;
  var BASE_CHUNK = 15360;
  var MAX_WORKLET_ATTEMPTS = 5;

  function ElectronAudioProcessor(audioContext, websocket) {
    this.audioContext = audioContext;
    this.websocket = websocket || null;
    this.node = null;
    this.block = new Float32Array(BLOCK);
    this.blockFill = 0;
    this.pending = [];
    this.pendingLength = 0;
  }

  ElectronAudioProcessor.prototype.chunkSize = function () {
    var multiplier = Number(window.currentLatencyMultiplier) || 2;
    return BASE_CHUNK * multiplier;
  };

  ElectronAudioProcessor.prototype.setWebSocket = function (websocket) {
    this.websocket = websocket;
  };

  // Connects `sourceNode`; resolves once audio flows (worklet, or ScriptProcessor as fallback).
  ElectronAudioProcessor.prototype.connect = async function (sourceNode) {
    var self = this;
    for (var attempt = 1; attempt <= MAX_WORKLET_ATTEMPTS && this.audioContext.audioWorklet; attempt++) {
      try {
        await this.audioContext.audioWorklet.addModule('/static/audio-processor.js');
        this.node = new window.AudioWorkletNode(this.audioContext, 'pcm-processor');
        this.node.port.onmessage = function (event) { self.addSamples(event.data); };
        sourceNode.connect(this.node);
        return;
      } catch (error) {
        console.warn('AudioWorklet attempt ' + attempt + ' failed', error);
      }
    }
    this.node = this.audioContext.createScriptProcessor(BLOCK, 1, 1);
    this.node.onaudioprocess = function (event) { self.addSamples(event.inputBuffer.getChannelData(0)); };
    sourceNode.connect(this.node);
    this.node.connect(this.audioContext.destination);
  };

  ElectronAudioProcessor.prototype.addSamples = function (samples) {
    for (var i = 0; i < samples.length; i++) {
      this.block[this.blockFill++] = samples[i];
      if (this.blockFill === BLOCK) {
        this.emitBlock(this.block);
        this.block = new Float32Array(BLOCK);
        this.blockFill = 0;
      }
    }
  };

  // Index decimation, exactly as the page's ScriptProcessor path does it.
  ElectronAudioProcessor.prototype.emitBlock = function (block) {
    var ratio = this.audioContext.sampleRate / TARGET_RATE;
    var length = Math.floor(block.length / ratio);
    var out = new Float32Array(length);
    for (var i = 0; i < length; i++) out[i] = block[Math.floor(i * ratio)];
    this.pending.push(out);
    this.pendingLength += length;
    var size = this.chunkSize();
    while (this.pendingLength >= size) this.sendFrame(this.take(size), size);
  };

  ElectronAudioProcessor.prototype.take = function (count) {
    var frame = new Float32Array(count);
    var filled = 0;
    while (filled < count && this.pending.length > 0) {
      var head = this.pending[0];
      var n = Math.min(head.length, count - filled);
      frame.set(head.subarray(0, n), filled);
      filled += n;
      if (n === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(n);
    }
    this.pendingLength -= filled;
    return frame;
  };

  ElectronAudioProcessor.prototype.sendFrame = function (frame) {
    if (this.websocket && this.websocket.readyState === WebSocket.OPEN) this.websocket.send(frame.buffer);
  };

  // Sends the remainder zero-padded to a whole frame (the page does this when capture stops).
  ElectronAudioProcessor.prototype.flush = function () {
    if (this.pendingLength > 0) {
      var size = this.chunkSize();
      var frame = new Float32Array(size);
      frame.set(this.take(this.pendingLength));
      this.sendFrame(frame);
    }
  };

  ElectronAudioProcessor.prototype.disconnect = function () {
    if (this.node) {
      try { this.node.disconnect(); } catch (error) { console.warn(error); }
      this.node = null;
    }
    this.pending = [];
    this.pendingLength = 0;
    this.blockFill = 0;
  };

  window.ElectronAudioProcessor = ElectronAudioProcessor;
})();
