// The long-running daemon asks V8 to favour memory over speed (`--optimize-for-size`).
//
// The daemon's main thread takes in the probe I/O thread's records and steers 20 times a second, which
// allocates short-lived objects without pause: ~1.5 MB/s when this flag came in (--trace-gc, lab branch,
// 3 uplinks × 20 probes/s), 0.73 MB/s since path snapshots stopped boxing numbers (V8's sampling heap
// profiler). V8's memory reducer, which gives the heap back after a burst (start-up, every policy reload:
// YAML, schema validation, netlink dumps), then rarely runs unless the isolate is told to optimise for
// memory. At 1.5 MB/s, without the flag the heap stayed at ~34 MB committed (~13 MB live) for minutes
// after a reload and RSS at 89 MB; with it 73 MB, peaking at 78 over start and two reloads (against 108).
// At 0.73 MB/s it still pays (one run each, VmRSS every 2 s for 120 s from 20 s after start, a reload at
// 30 s): without it 71–78 MB after the reload and 91 MB at the start, with it 67–71 MB throughout, for
// 1.35 against 1.23 % of CPU. One-shot commands keep V8's defaults.
import { setFlagsFromString } from 'node:v8'

export const FAVOUR_MEMORY = '--optimize-for-size'

/** For `sdwan-edge COMMAND`: favour memory when the command is the long-running daemon (`run`). */
export function favourMemory(command: string | undefined, setFlags: (flags: string) => void = setFlagsFromString): void {
  if (command === 'run') setFlags(FAVOUR_MEMORY)
}
