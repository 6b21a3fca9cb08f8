// The long-running daemon asks V8 to favour memory over speed (`--optimize-for-size`).
//
// The daemon's main thread takes in the probe I/O thread's records and steers 20 times a second, which
// allocates ~1.5 MB/s of short-lived objects (measured with --trace-gc on the lab branch, 3 uplinks ×
// 20 probes/s). V8's memory reducer, which gives the heap back after a burst (start-up, every policy
// reload: YAML, schema validation, netlink dumps), only runs while the allocation rate is under ~1 MB/s
// unless the isolate is told to optimise for memory. Without the flag the heap stayed at ~34 MB committed
// (~13 MB live) for minutes after a reload; the process's RSS stayed at 89 MB. With it: 73 MB, the peak
// over start and two reloads 78 MB (against 108), for ~1 ms/s more CPU on the main thread (13.2 against
// 12.2 ms/s, one side-by-side run of 60 s). One-shot commands keep V8's defaults.
import { setFlagsFromString } from 'node:v8'

export const FAVOUR_MEMORY = '--optimize-for-size'

/** For `sdwan-edge COMMAND`: favour memory when the command is the long-running daemon (`run`). */
export function favourMemory(command: string | undefined, setFlags: (flags: string) => void = setFlagsFromString): void {
  if (command === 'run') setFlags(FAVOUR_MEMORY)
}
