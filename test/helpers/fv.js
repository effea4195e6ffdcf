'use strict'
// The package under test, loaded the way users load it (package.json "main" → dist/).
module.exports = require('../..')
