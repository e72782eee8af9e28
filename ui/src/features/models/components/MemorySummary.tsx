import { type MemoryInfo } from "../../../lib/ipc";
import { formatBytes } from "../../../lib/format";

export function MemorySummary({ memory }: { memory: MemoryInfo }) {
  const source = {
    available: "memory available now",
    gpuWorkingSet: "the GPU's working-set limit or the memory available now, whichever is less",
    totalFraction: "two thirds of memory or the memory available now, whichever is less",
    given: "the limit you set",
  }[memory.source];
  return (
    <p className="muted" data-testid="memory">
      This computer has {formatBytes(memory.totalBytes)} of memory; models may use {formatBytes(memory.budgetBytes)} ({source}).
    </p>
  );
}
