// A problem found in a policy file, located for the person who has to fix it.

export interface PolicyProblem {
  /** JSON pointer (RFC 6901) into the policy document, '' for the whole document. */
  pointer: string
  message: string
  /** Point at the property's key rather than its value (an unknown or misspelt property). */
  atKey?: boolean
}

export interface PolicyError extends PolicyProblem {
  file: string
  /** 1-based line and column of the YAML node the pointer names (or of its nearest written ancestor). */
  line: number
  column: number
}

export const formatPolicyError = (e: PolicyError): string =>
  `${e.file}:${e.line}:${e.column}: ${e.pointer || '/'}: ${e.message}`

/** The policy could not be accepted; `errors` lists every problem found, in file order. */
export class PolicyInvalid extends Error {
  override readonly name = 'PolicyInvalid'
  constructor(readonly errors: readonly PolicyError[]) {
    super(`${errors.length} problem${errors.length === 1 ? '' : 's'} in policy:\n${errors.map(formatPolicyError).join('\n')}`)
  }
}

export const pointerOf = (path: ReadonlyArray<string | number>): string =>
  path.map(p => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('')

export const pathOf = (pointer: string): string[] =>
  pointer === '' ? [] : pointer.slice(1).split('/').map(p => p.replace(/~1/g, '/').replace(/~0/g, '~'))
