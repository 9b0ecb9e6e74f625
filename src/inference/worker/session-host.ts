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
import type { SlotArena } from './slot-arena.ts';
import type { StepLoop } from './step-loop.ts';

interface HostedSession {
  translator: ChunkTranslator;
  languagePair: string;
  state: ModelState;
  /** Bumped by reset and close: a chunk started under an older one stops at its next step. */
  generation: number;
  /** The chunk in progress; a slot it uses is returned to the arena only once it settled. */
  running?: Promise<unknown>;
}

export interface HostedModel {
  pkg: ModelPackage;
  steps: StepLoop;
  beamSize: number;
  /** The model runner's decoder arena, where hosted sessions get their slots. */
  arena: SlotArena;
}

export class SessionHost {
  readonly #models = new Map<string, { translator: ChunkTranslator; pkg: ModelPackage }>();
  readonly #sessions = new Map<string, HostedSession>();

  constructor(models: readonly HostedModel[]) {
    for (const { pkg, steps, beamSize, arena } of models) {
      this.#models.set(pkg.manifest.name, { pkg, translator: new ChunkTranslator(pkg, steps.submit, beamSize, arena) });
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
    if (previous) this.#releaseSlot(previous);
    this.#sessions.set(stream, { translator: hosted.translator, languagePair, state: freshModelState(hosted.translator.arena.allocate()), generation: (previous?.generation ?? 0) + 1 });
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
    const running = session.translator.translate(stream, session.state, audio, multiplier, session.languagePair, isCancelled);
    session.running = running;
    const result = await running.finally(() => {
      if (session.running === running) delete session.running;
    });
    if (isCancelled()) throw new AppError('chunkCancelled');
    session.state = result.state;
    return {
      tokens: result.tokens,
      text: result.text,
      contextTokens: result.state.decoderLength,
      stateBytes: result.state.encoderCache.data.byteLength + session.translator.arena.bytesPerSlot,
    };
  }

  /** Fresh context; a chunk in flight stops at its next step. */
  reset(stream: string): void {
    const session = this.#sessions.get(stream);
    if (!session) return;
    session.generation++;
    this.#releaseSlot(session);
    session.state = freshModelState(session.translator.arena.allocate());
  }

  /** Forgets the session; a chunk in flight stops at its next step. */
  close(stream: string): void {
    const session = this.#sessions.get(stream);
    if (!session) return;
    session.generation++;
    this.#releaseSlot(session);
    this.#sessions.delete(stream);
  }

  /**
   * Returns the session's slot to its arena — once its chunk in flight (which may still write
   * the slot until it reaches its next step) has settled, so a new session never shares it.
   */
  #releaseSlot(session: HostedSession): void {
    const { slot } = session.state;
    const arena = session.translator.arena;
    if (session.running) {
      const release = (): void => arena.release(slot);
      session.running.then(release, release);
    } else {
      arena.release(slot);
    }
  }

  /** Refuses new chunks and waits for every chunk in progress (engine shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#models.values()].map((model) => model.translator.drain()));
  }
}
