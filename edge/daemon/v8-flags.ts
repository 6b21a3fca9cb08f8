// The V8 flags the daemon runs with, set by the process itself: the firmware starts it as plain
// `node …/bin.js run`, and both flags below are read by V8 whenever it sizes a heap space, so setting
// them from inside (before the CLI's and the daemon's modules load) has their command-line effect on
// what is allocated afterwards. The tests in test/edge/daemon check each effect in a child process.
//
// --semi-space-growth-factor=1  V8 doubles the semi-spaces (up to 16 MB each) whenever a scavenge finds
//   much of the nursery alive, which start-up and every policy reload do (YAML, schema validation,
//   netlink dumps), and keeps the grown nursery resident until a later idle GC: measured on the lab
//   branch, main-thread new space 16 MB after start, 1 MB later. The steady state (a few hundred small
//   objects per steering tick) needs no more than a 1–2 MB semi-space.
// --optimize-for-size  V8's memory-saving heuristics (smaller old-generation growing steps, earlier
//   bytecode flushing): main-thread heap 21.4 → 15.6 MB and process RSS ~98 → ~90 MB on the lab branch
//   after two reloads, with the daemon's CPU unchanged within the noise (2.94 vs 3.08 % over 50 s).
//   Not --lite-mode, which also saves memory but costs 5–7 % of a core.
import { setFlagsFromString } from 'node:v8'

export const DAEMON_V8_FLAGS = ['--semi-space-growth-factor=1', '--optimize-for-size'] as const

/**
 * For `sdwan-edge COMMAND`: applies DAEMON_V8_FLAGS when the command is the long-running daemon (`run`);
 * one-shot commands keep V8's defaults. Call before loading the CLI's modules.
 */
export function applyDaemonV8Flags(command: string | undefined, setFlags: (flags: string) => void = setFlagsFromString): void {
  if (command === 'run') for (const flag of DAEMON_V8_FLAGS) setFlags(flag)
}
