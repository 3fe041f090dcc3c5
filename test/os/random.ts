import t from 'tap'
import { randomBytes } from '../../src/os/random.js'

t.test('as many bytes as asked, different each time', async t => {
  t.equal(randomBytes(16).length, 16)
  t.not(randomBytes(16).toString('hex'), randomBytes(16).toString('hex'))
})
