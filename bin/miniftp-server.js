#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --single-threaded-gc
'use strict';
// The compiled server (npm install / npm start build it into dist/).
require('../dist/src/main/cli.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
