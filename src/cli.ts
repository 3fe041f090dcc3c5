#!/usr/bin/env node
// The autossh command.
// first of all: signal handlers and the machine's limits (see early.ts)
import './early.js'
import { main } from './main.js'

// a closed pipe or socket is an error to handle where it happens, never a reason to die
process.on('SIGPIPE', () => {})

void main(process.argv.slice(2), process.env).then(status => {
  process.exitCode = status
  process.exit()
})
