#!/usr/bin/env node
'use strict';
// The compiled client (npm install builds it into dist/).
require('../dist/src/client/main/cli.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
