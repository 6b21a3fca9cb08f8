// Every broken policy under test/fixtures/policies/broken must produce exactly the located problems its
// `# expect:` lines name: the right place (line:column and JSON pointer) and the right words.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parsePolicy } from '../../../edge/config/load.js'

const dir = join(import.meta.dirname, '../../fixtures/policies/broken')
const files = readdirSync(dir).filter(f => f.endsWith('.yaml')).sort()

t.ok(files.length >= 30, `at least 30 broken policies (found ${files.length})`)

for (const file of files) {
  t.test(file, async t => {
    const text = readFileSync(join(dir, file), 'utf8')
    const expected = [...text.matchAll(/^# expect: (.*)$/gm)].map(m => m[1])
    t.ok(expected.length > 0, 'the fixture names the problems it expects')
    const result = parsePolicy(file, text)
    t.notOk(result.ok, 'the policy is rejected')
    const got = result.ok ? [] : result.errors.map(e => `${e.line}:${e.column} ${e.pointer}: ${e.message}`)
    t.same(got, expected)
    if (!result.ok) t.ok(result.errors.every(e => e.file === file), 'every problem names the file')
  })
}
