// The line format guest scenarios report each check in, and its parser on the host side:
//   LAB-CHECK <name> ok|fail <detail>
// Shell scenarios print it with echo; TypeScript scenarios with formatCheck.

export interface ScenarioCheck {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

const CHECK_LINE = /^LAB-CHECK (\S+) (ok|fail) ?(.*)$/

export function formatCheck(name: string, ok: boolean, detail: string): string {
  if (/\s/.test(name)) throw new Error(`check name "${name}" must not contain whitespace`)
  return `LAB-CHECK ${name} ${ok ? 'ok' : 'fail'} ${detail.replaceAll('\n', ' ')}`
}

/** A guest scenario's checks: each printed as it is judged; `failed` says whether any was not ok (exit 1). */
export function checkReporter(print: (line: string) => void = line => console.log(line)): { report(name: string, ok: boolean, detail: string): void; readonly failed: boolean } {
  let failed = false
  return {
    report(name, ok, detail) {
      failed ||= !ok
      print(formatCheck(name, ok, detail))
    },
    get failed() {
      return failed
    },
  }
}

export function parseChecks(console: string): ScenarioCheck[] {
  return console.split('\n').flatMap(line => {
    const match = CHECK_LINE.exec(line.trimEnd())
    return match === null ? [] : [{ name: match[1] ?? '', ok: match[2] === 'ok', detail: match[3] ?? '' }]
  })
}
