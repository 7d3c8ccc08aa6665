// `cdk synth` / `cdk deploy` entry point (cdk.json "app"). The configuration file comes from
// `-c config=<file>`; a bad one fails here with `<file>: <field>: <problem>`.
import { ConfigError } from './config.ts';
import { createTidemarkApp } from './tidemark-app.ts';

try {
  createTidemarkApp().app.synth();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
