import { z } from 'zod';
import { configSchema } from './schema.js';

/** Stable identifier of the schema; editors find the file through `$schema`, not through this. */
export const CONFIG_SCHEMA_ID = 'urn:bgctl:config';

/**
 * The JSON Schema of bgctl.yaml for editors, generated from the zod schema (the documentation).
 * `io: 'input'` describes what a user may write: keys with defaults are optional, not required.
 * Refinements (increasing steps, colors not sharing servers) have no JSON Schema form; bgctl checks them.
 */
export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'throw' });
  return { ...generated, $id: CONFIG_SCHEMA_ID, title: 'bgctl configuration' };
}
