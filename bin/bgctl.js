#!/usr/bin/env node
import { main } from '../dist/main.js';

// main() decides the exit code; exiting explicitly means no idle socket or timer keeps a finished
// command alive (stdout/stderr writes to pipes, files and terminals are synchronous on Linux).
main(process.argv).then((code) => process.exit(code));
