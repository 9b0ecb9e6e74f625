/** Whether this host has an NVIDIA GPU the driver answers for: tests assert what loads accordingly. */
import { execFileSync } from 'node:child_process';

export function hasNvidiaGpu(): boolean {
  try {
    execFileSync('nvidia-smi', ['-L'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}
