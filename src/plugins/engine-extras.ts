/**
 * Optional engine capabilities beyond the `TranslationEngine` interface: per-device load,
 * batch/chunk observers (metrics) and fault injection (drills). The real engine has them; test
 * engines may not, and the server then simply reports less.
 */
import type { DeviceLoad, EngineObserver } from '../inference/engine/engine.ts';
import type { WorkerFault } from '../inference/messages.ts';
import type { TranslationEngine } from '../inference/translation-engine.ts';

interface ObservableEngine {
  addObserver(observer: EngineObserver): () => void;
}
interface LoadReportingEngine {
  deviceLoads(): DeviceLoad[];
}
interface FaultInjectableEngine {
  injectWorkerFault(fault: WorkerFault, model?: string): void;
}

function hasMethod<K extends string>(engine: TranslationEngine, name: K): engine is TranslationEngine & Record<K, (...args: never[]) => unknown> {
  return typeof (engine as unknown as Record<string, unknown>)[name] === 'function';
}

/** Registers `observer` if the engine supports observers; returns the remover (a no-op otherwise). */
export function observeEngine(engine: TranslationEngine, observer: EngineObserver): () => void {
  if (!hasMethod(engine, 'addObserver')) return () => undefined;
  return (engine as unknown as ObservableEngine).addObserver(observer);
}

/** Per-device load, or null when the engine does not report it. */
export function deviceLoadsOf(engine: TranslationEngine): DeviceLoad[] | null {
  if (!hasMethod(engine, 'deviceLoads')) return null;
  return (engine as unknown as LoadReportingEngine).deviceLoads();
}

/** Arms a worker fault on the next batch (of `model`); false when the engine cannot. */
export function injectFault(engine: TranslationEngine, fault: WorkerFault, model?: string): boolean {
  if (!hasMethod(engine, 'injectWorkerFault')) return false;
  (engine as unknown as FaultInjectableEngine).injectWorkerFault(fault, model);
  return true;
}
