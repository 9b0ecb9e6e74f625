/**
 * Free memory per device for the most-free-memory placement and for /ray/stats. onnxruntime-node
 * has no portable query of free GPU memory, so: CPU groups report the free system memory; CUDA
 * groups report what `nvidia-smi` last said (polled in the background, never on the request
 * path); without nvidia-smi a CUDA device's memory is unknown (null) and placement falls back to
 * least-loaded (docs/operations.md: placement). `cuda:<n>` is the n-th visible GPU, mapped back to the id in
 * CUDA_VISIBLE_DEVICES (an index or a GPU UUID) to find its nvidia-smi row.
 */
import { execFile } from 'node:child_process';
import { freemem } from 'node:os';
import type { Logger } from 'pino';

export interface DeviceMemoryProbeOptions {
  /** Ids as listed in CUDA_VISIBLE_DEVICES (config engine.gpu.visibleDevices); empty = all GPUs in nvidia-smi order. */
  visibleDevices: readonly string[];
  /** Poll period of nvidia-smi. */
  intervalMs?: number;
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** Replaceable for tests: runs nvidia-smi and returns its CSV output. */
  query?: () => Promise<string>;
}

interface GpuRow {
  index: string;
  uuid: string;
  freeBytes: number;
}

const nvidiaSmiArgs = ['--query-gpu=index,uuid,memory.free', '--format=csv,noheader,nounits'];

function runNvidiaSmi(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('nvidia-smi', nvidiaSmiArgs, { timeout: 5_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
}

/** Parses `index, uuid, free MiB` lines; malformed lines are skipped. */
export function parseNvidiaSmi(csv: string): GpuRow[] {
  const rows: GpuRow[] = [];
  for (const line of csv.split('\n')) {
    const [index, uuid, free] = line.split(',').map((part) => part.trim());
    const mib = Number(free);
    if (index && uuid && free !== undefined && free !== '' && Number.isFinite(mib)) rows.push({ index, uuid, freeBytes: mib * 1024 * 1024 });
  }
  return rows;
}

export class DeviceMemoryProbe {
  private rows: GpuRow[] = [];
  private timer: NodeJS.Timeout | null = null;
  private isUnavailable = false;

  constructor(private readonly options: DeviceMemoryProbeOptions) {}

  /** Starts polling nvidia-smi when there are CUDA devices to report. Never throws. */
  start(hasCudaDevices: boolean): void {
    if (!hasCudaDevices || this.timer) return;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.options.intervalMs ?? 10_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Free bytes of "cpu" or "cuda:<n>"; null when unknown. Never throws. */
  freeMemoryBytes(device: string): number | null {
    if (device === 'cpu') return freemem();
    const match = /^cuda:(\d+)$/.exec(device);
    if (!match || this.rows.length === 0) return null;
    const position = Number(match[1]);
    const visible = this.options.visibleDevices;
    const id = visible.length > 0 ? visible[position] : String(position);
    if (id === undefined) return null;
    return this.rows.find((row) => row.index === id || row.uuid === id)?.freeBytes ?? null;
  }

  async poll(): Promise<void> {
    if (this.isUnavailable) return;
    try {
      this.rows = parseNvidiaSmi(await (this.options.query ?? runNvidiaSmi)());
    } catch (error) {
      this.rows = [];
      const isMissing = error instanceof Error && 'code' in error && error.code === 'ENOENT';
      if (!isMissing) return; // a slow or failed round: unknown until the next one
      // Without nvidia-smi nothing will change: stop asking, say so once.
      this.isUnavailable = true;
      this.stop();
      this.options.logger?.warn('nvidia-smi not found: GPU free memory unknown; most-free-memory placement falls back to least-loaded');
    }
  }
}
