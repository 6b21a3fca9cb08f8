// Parses policy YAML keeping source positions, so any problem can be reported at file:line:column.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml'
import { pathOf, type PolicyError, type PolicyProblem } from './errors.js'

export interface YamlSource {
  file: string
  /** The document as plain data (what the schema validates). */
  data: unknown
  /** Maps a JSON pointer to the 1-based line and column of what it names. */
  locate(problem: PolicyProblem): PolicyError
}

/** Parses `text`; returns the YAML syntax errors instead when there are any. */
export function parseYamlSource(file: string, text: string): YamlSource | PolicyError[] {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true })
  if (doc.errors.length > 0) {
    return doc.errors.map(err => {
      const at = lineCounter.linePos(err.pos[0])
      return { file, line: at.line, column: at.col, pointer: '', message: `YAML syntax: ${firstLine(err.message)}` }
    })
  }
  // An alias bomb ("billion laughs") would expand without bound; a policy never needs many aliases.
  const data: unknown = doc.toJS({ maxAliasCount: 100 })
  const locate = (problem: PolicyProblem): PolicyError => {
    const offset = offsetOf(doc, pathOf(problem.pointer), problem.atKey === true)
    const at = lineCounter.linePos(offset)
    return { file, line: at.line, column: at.col, ...problem }
  }
  return { file, data, locate }
}

const firstLine = (message: string): string => message.split('\n')[0] ?? message

/**
 * The source offset of the node at `path`, or of the nearest ancestor that was written (a pointer can
 * name a defaulted or missing value). With `atKey`, the last segment's key rather than its value:
 * unknown-property errors point at the key the person typed.
 */
function offsetOf(doc: Document, path: string[], atKey: boolean): number {
  let node: unknown = doc.contents
  let offset = rangeStart(doc.contents) ?? 0
  for (const [i, name] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find(p => isPair(p) && isScalar(p.key) && String(p.key.value) === name)
      if (!pair) break
      if (atKey && i === path.length - 1) return rangeStart(pair.key as Node) ?? offset
      node = pair.value
      offset = rangeStart(pair.value as Node) ?? rangeStart(pair.key as Node) ?? offset
    } else if (isSeq(node)) {
      const item = node.items[Number(name)]
      if (item === undefined) break
      node = item
      offset = rangeStart(item as Node) ?? offset
    } else {
      break
    }
  }
  return offset
}

const rangeStart = (node: Node | null | undefined): number | undefined =>
  node && 'range' in node && node.range ? node.range[0] : undefined
