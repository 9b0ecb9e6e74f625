/**
 * Audio capture: one AudioContext per page with the "infinisst-capture" worklet, fed by either the
 * microphone or a playing media element. Delivers 16 kHz mono blocks to `onSamples`.
 */
/* global AudioWorkletNode */

export class CaptureError extends Error {}

function microphoneError(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return new CaptureError('Microphone access was blocked. Allow the microphone for this site (the icon in the address bar), then press the microphone button again.');
    case 'NotFoundError':
    case 'OverconstrainedError':
      return new CaptureError('No microphone was found. Connect one, then press the microphone button again.');
    case 'NotReadableError':
    case 'AbortError':
      return new CaptureError('The microphone could not be started; another application may be using it.');
    default:
      return new CaptureError(`The microphone could not be started (${error?.message || error}).`);
  }
}

export class AudioPipeline {
  /**
   * Creates the context and loads the worklet. Call from a click handler: browsers only let a
   * page start audio in response to a user action.
   */
  static async create() {
    const Context = window.AudioContext ?? window.webkitAudioContext;
    if (!Context || !('audioWorklet' in Context.prototype)) {
      throw new CaptureError('This browser cannot capture audio for translation (no AudioWorklet). Use a current Chrome, Edge or Firefox.');
    }
    if (!window.isSecureContext) {
      throw new CaptureError('Audio capture needs a secure page: open this site over https:// (or on localhost).');
    }
    const context = new Context({ latencyHint: 'interactive' });
    // Not awaited: without a user gesture the promise stays pending until one happens.
    context.resume().catch(() => {});
    try {
      await context.audioWorklet.addModule('/static/app/capture-worklet.js');
    } catch (error) {
      context.close().catch(() => {});
      throw new CaptureError(`The audio processor could not be loaded (${error.message}). Reload the page to try again.`);
    }
    return new AudioPipeline(context);
  }

  constructor(context) {
    this.context = context;
    /** @type {(samples: Float32Array, peak: number) => void} */
    this.onSamples = () => {};
    this.node = new AudioWorkletNode(context, 'infinisst-capture', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: 2,
      channelCountMode: 'max',
    });
    // The worklet must reach the destination to be scheduled; a muted gain keeps it silent.
    const mute = context.createGain();
    mute.gain.value = 0;
    this.node.connect(mute).connect(context.destination);
    this.source = null;
    this.stream = null;
    this.elementSources = new WeakMap();
    this.flushWaiters = new Map();
    this.flushId = 0;
    this.node.port.onmessage = (event) => {
      const data = event.data;
      if (data?.type === 'samples') this.onSamples(data.samples, data.peak);
      else if (data?.type === 'flushed') {
        this.flushWaiters.get(data.id)?.();
        this.flushWaiters.delete(data.id);
      }
    };
  }

  get inputRateHz() {
    return this.context.sampleRate;
  }

  /** Asks the browser to run audio; resolves at once (the context starts when the browser allows). */
  resume() {
    if (this.context.state !== 'running') this.context.resume().catch(() => {});
  }

  get isRunning() {
    return this.context.state === 'running';
  }

  /** Starts the microphone; `onEnded` fires if the device goes away. Throws CaptureError. */
  async connectMicrophone(onEnded) {
    if (!navigator.mediaDevices?.getUserMedia) throw new CaptureError('This page cannot use the microphone here: open it over https:// (or on localhost).');
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 } });
    } catch (error) {
      throw microphoneError(error);
    }
    this.disconnectSource();
    this.resume();
    this.stream = stream;
    this.source = this.context.createMediaStreamSource(stream);
    this.source.connect(this.node);
    for (const track of stream.getAudioTracks()) track.addEventListener('ended', () => onEnded?.(), { once: true });
  }

  /** Routes a media element to the speakers and to the capture worklet. */
  connectMediaElement(element) {
    this.disconnectSource();
    let source = this.elementSources.get(element);
    if (!source) {
      // Once per element: a media element can only ever have one source node.
      source = this.context.createMediaElementSource(element);
      source.connect(this.context.destination);
      this.elementSources.set(element, source);
    }
    source.connect(this.node);
    this.source = source;
  }

  /** Detaches the current source (stops the microphone; media keeps playing to the speakers). */
  disconnectSource() {
    if (this.source) {
      try {
        this.source.disconnect(this.node);
      } catch {
        // already disconnected
      }
    }
    this.source = null;
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
  }

  /** Pushes the resampler's tail through `onSamples`; resolves when done (or after 1 s). */
  flush() {
    const id = ++this.flushId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.flushWaiters.delete(id);
        resolve();
      }, 1000);
      this.flushWaiters.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
      this.node.port.postMessage({ type: 'flush', id });
    });
  }
}
