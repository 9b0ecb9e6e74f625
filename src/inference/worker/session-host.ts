/**
 * Worker thread: the sessions this worker hosts. Each keeps its model state here — encoder and
 * decoder caches, the pending token, whether it has context — from its first chunk to its close;
 * only audio comes in and tokens and text go out. Chunks run through the model's step loop, so
 * the chunks of all hosted sessions share batches.
 */
import { AppError } from '../../errors.ts';
import { ChunkTranslator, freshModelState, type ModelState } from './chunk-translator.ts';
import type { ModelPackage } from '../manifest.ts';
import type { ChunkDone } from '../messages.ts';
import type { StepLoop } from './step-loop.ts';

interface HostedSession {
  translator: ChunkTranslator;
  languagePair: string;
  state: ModelState;
  /** Bumped by reset and close: a chunk started under an older one stops at its next step. */
  generation: number;
}

export interface HostedModel {
  pkg: ModelPackage;
  steps: StepLoop;
  beamSize: number;
}

export class SessionHost {
  readonly #models = new Map<string, { translator: ChunkTranslator; pkg: ModelPackage }>();
  readonly #sessions = new Map<string, HostedSession>();

  constructor(models: readonly HostedModel[]) {
    for (const { pkg, steps, beamSize } of models) {
      this.#models.set(pkg.manifest.name, { pkg, translator: new ChunkTranslator(pkg, steps.submit, beamSize) });
    }
  }

  get size(): number {
    return this.#sessions.size;
  }

  isHosting(stream: string): boolean {
    return this.#sessions.has(stream);
  }

  /** Hosts a session with a fresh context; opening an id again starts it afresh. */
  open(stream: string, model: string, languagePair: string): void {
    const hosted = this.#models.get(model);
    if (!hosted) throw new AppError('modelInvalid', `model "${model}" is not loaded in this worker`);
    if (!hosted.pkg.manifest.languagePairs[languagePair]) throw new AppError('unsupportedLanguagePair', `model ${model} does not serve ${languagePair}`);
    const previous = this.#sessions.get(stream);
    this.#sessions.set(stream, { translator: hosted.translator, languagePair, state: freshModelState(), generation: (previous?.generation ?? 0) + 1 });
  }

  /**
   * Translates the session's next chunk with its resident state and keeps the new state. On
   * failure the state stays as it was before the chunk (nothing was updated in place).
   */
  async translate(stream: string, audio: Float32Array, multiplier: number): Promise<ChunkDone> {
    const session = this.#sessions.get(stream);
    if (!session) throw new AppError('sessionNotFound', 'the session is not hosted by this worker');
    const generation = session.generation;
    const isCancelled = (): boolean => this.#sessions.get(stream) !== session || session.generation !== generation;
    const result = await session.translator.translate(stream, session.state, audio, multiplier, session.languagePair, isCancelled);
    if (isCancelled()) throw new AppError('chunkCancelled');
    session.state = result.state;
    return {
      tokens: result.tokens,
      text: result.text,
      contextTokens: result.state.decoderCache.length,
      stateBytes: result.state.encoderCache.data.byteLength + result.state.decoderCache.data.byteLength,
    };
  }

  /** Fresh context; a chunk in flight stops at its next step. */
  reset(stream: string): void {
    const session = this.#sessions.get(stream);
    if (!session) return;
    session.generation++;
    session.state = freshModelState();
  }

  /** Forgets the session; a chunk in flight stops at its next step. */
  close(stream: string): void {
    const session = this.#sessions.get(stream);
    if (!session) return;
    session.generation++;
    this.#sessions.delete(stream);
  }

  /** Refuses new chunks and waits for every chunk in progress (engine shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#models.values()].map((model) => model.translator.drain()));
  }
}
