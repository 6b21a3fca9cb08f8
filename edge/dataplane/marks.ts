// Values inside the fwmark bits we own (the split itself: config/ownership.ts markLayout, shared with
// validation so a policy that validates always lays out). Pure; `>>> 0` keeps everything unsigned
// 32-bit, since JS bit operators work on signed int32.
import type { MarkLayout } from './model.js'

/** Largest class id the class field holds. */
export const maxClassId = (m: MarkLayout): number => m.classMask >>> m.classShift

/** The path field's top value, reserved for the drop path. */
export const dropPathId = (m: MarkLayout): number => m.pathMask >>> m.pathShift

export const classValue = (m: MarkLayout, classId: number): number => (classId * 2 ** m.classShift) >>> 0

export const pathValue = (m: MarkLayout, pathId: number): number => (pathId * 2 ** m.pathShift) >>> 0

export const markValue = (m: MarkLayout, classId: number, pathId: number): number =>
  (classValue(m, classId) | pathValue(m, pathId)) >>> 0

/** `~mask` as an unsigned 32-bit value, for `and` expressions that keep everyone else's bits. */
export const outside = (mask: number): number => ~mask >>> 0

export const hex32 = (n: number): string => '0x' + (n >>> 0).toString(16).padStart(8, '0')
