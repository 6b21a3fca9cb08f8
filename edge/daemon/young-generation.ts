// The daemon's main-thread V8 young generation, kept small.
//
// V8 doubles the semi-spaces (up to 16 MB each on 64-bit) whenever a scavenge finds much of the nursery
// alive, which start-up and every policy reload do (YAML parse, schema validation, netlink dumps). It
// keeps the grown nursery resident until a later idle GC shrinks it, so each reload put ~15 MB back on
// the daemon's RSS (measured on the lab branch: main-thread new space 16 MB after start, 1 MB later).
// The steady state allocates a few hundred small objects per steering tick and needs no more than a
// 1–2 MB semi-space. `--max-semi-space-size` would say this on the command line, but the firmware starts
// the daemon as `node …/bin.js run`; V8 reads the growth factor each time it grows the new space, so
// setting it to 1 from inside the process keeps the new space at a few MB instead of 16 (the test in
// test/edge/daemon checks it), provided it is set before the burst: bin.ts sets it before loading anything.
import { setFlagsFromString } from 'node:v8'

export const NO_YOUNG_GENERATION_GROWTH = '--semi-space-growth-factor=1'

/**
 * For `sdwan-edge COMMAND`: stops this process's V8 young generation from growing when the command is the
 * long-running daemon (`run`); one-shot commands keep V8's default. Call before loading the CLI's modules.
 */
export function keepYoungGenerationSmall(command: string | undefined, setFlags: (flags: string) => void = setFlagsFromString): void {
  if (command === 'run') setFlags(NO_YOUNG_GENERATION_GROWTH)
}
