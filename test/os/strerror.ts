import t from 'tap'
import { strerror } from '../../src/os/strerror.js'

t.test('glibc texts by code, or by errno number', async t => {
  t.equal(strerror({ code: 'ECONNREFUSED' }), 'Connection refused')
  // libuv numbers errors negatively: -13 is EACCES
  t.equal(strerror({ errno: -13 }), 'Permission denied')
})

t.test('errors glibc is not asked about: libuv\'s text, capitalised', async t => {
  t.equal(strerror({ errno: -18 }), 'Cross-device link not permitted')
  t.equal(strerror(new Error('something odd')), 'Something odd')
  t.equal(strerror('plain words'), 'Plain words')
})
