'use strict';
// Pulumi.yaml's program. It compiles what changed since the last build first (stacks/fresh.js), so `pulumi up`
// never deploys an earlier build of stacks/pulumi-main.ts; the module's exports are the stack's outputs.
module.exports = require('./fresh').load('stacks/pulumi-main');
