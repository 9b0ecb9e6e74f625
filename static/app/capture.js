/**
 * Which audio is being translated: the microphone or the playing media element. Feeds captured
 * 16 kHz audio to the session's translator while capturing, and ends each capture cleanly (the
 * resampler's tail and the padded last frame are sent, then "EOF").
 */
import { AudioPipeline } from './audio-pipeline.js';

export class CaptureController {
  /**
   * @param {{ page: object, player: import('./player.js').MediaPlayer, onChange: () => void,
   *           onLevel: (peak: number) => void, onError: (message: string) => void, onActivity: () => void }} deps
   *   `page` holds the shared state: translator, capture ('none'|'mic'|'media'), isCapturing, timelineSamples.
   */
  constructor(deps) {
    this.deps = deps;
    this.pipeline = null;
    this.pipelinePromise = null;
  }

  /** Creates the audio pipeline once; call first thing in a click handler (browsers require a gesture). */
  ensurePipeline() {
    this.pipelinePromise ??= AudioPipeline.create().then((pipeline) => {
      pipeline.onSamples = (samples, peak) => this.onSamples(samples, peak);
      this.pipeline = pipeline;
      if (this.deps.player.element) pipeline.connectMediaElement(this.deps.player.element);
      return pipeline;
    }, (error) => {
      this.pipelinePromise = null;
      throw error;
    });
    return this.pipelinePromise;
  }

  onSamples(samples, peak) {
    const { page } = this.deps;
    if (page.capture === 'mic') this.deps.onLevel(peak);
    if (!page.isCapturing || !page.translator) return;
    page.timelineSamples += samples.length;
    page.translator.feed(samples);
    this.deps.onActivity();
  }

  async startMicrophone() {
    const { page, player } = this.deps;
    const pipeline = await this.ensurePipeline();
    player.pause();
    await pipeline.connectMicrophone(() => {
      this.stopMicrophone();
      this.deps.onError('The microphone stopped (it was disconnected or switched off).');
    });
    page.capture = 'mic';
    page.isCapturing = true;
    page.notice = null;
    page.streamNote = null;
    this.deps.onChange();
  }

  async stopMicrophone() {
    const { page } = this.deps;
    if (page.capture !== 'mic') return;
    this.pipeline?.disconnectSource();
    await this.finish();
    page.capture = 'none';
    this.deps.onLevel(0);
    this.deps.onChange();
  }

  /** Ends the current capture gracefully (microphone stopped, media ended or session stopping). */
  async finish() {
    const { page } = this.deps;
    if (!page.isCapturing) return;
    await this.pipeline?.flush();
    page.isCapturing = false;
    page.translator?.finish();
    this.deps.onChange();
  }

  /** Stops at once without sending the tail (the session is gone). */
  stopNow() {
    const { page, player } = this.deps;
    page.isCapturing = false;
    if (page.capture === 'mic') this.pipeline?.disconnectSource();
    player.pause();
    page.capture = player.element ? 'media' : 'none';
  }

  /** Stops whatever runs, sending its tail (used by Stop). */
  async stopAll() {
    const { page, player } = this.deps;
    if (page.capture === 'mic') {
      await this.stopMicrophone();
      return;
    }
    const hasTail = (page.translator?.framer.bufferedSamples ?? 0) > 0;
    if (player.isPlaying || page.isCapturing || hasTail) {
      player.pause();
      page.isCapturing = true;
      await this.finish();
    }
  }

  // --- media element events (from the player) ----------------------------------------------

  onMediaLoaded(element) {
    this.pipeline?.connectMediaElement(element);
  }

  async onMediaPlay() {
    const { page, player } = this.deps;
    if (!page.translator) {
      this.deps.onError('Press Start first: the media plays, but it is only translated during a session.');
      return;
    }
    try {
      const pipeline = await this.ensurePipeline();
      if (page.capture === 'mic') await this.stopMicrophone();
      pipeline.connectMediaElement(player.element);
      pipeline.resume();
    } catch (error) {
      this.deps.onError(error.message);
      return;
    }
    page.capture = 'media';
    page.isCapturing = true;
    page.notice = null;
    page.streamNote = null;
    this.deps.onChange();
  }

  onMediaPause() {
    this.deps.page.isCapturing = false;
    this.deps.onChange();
  }

  async onMediaEnded() {
    const { page } = this.deps;
    if (page.capture !== 'media') return;
    page.isCapturing = true; // let the resampler's tail through
    await this.finish();
  }
}
