#!/usr/bin/env node
// The autossh command.
import { main } from './main.js'

// a closed pipe or socket is an error to handle where it happens, never a reason to die
process.on('SIGPIPE', () => {})

process.exitCode = await main(process.argv.slice(2), process.env)
process.exit()
