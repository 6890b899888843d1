/**
 * How a split between the colors is made: `weighted` per request (exact shares), `sticky` per client
 * (a cookie keeps each client on its color). The one list: the config schema, the state file, the CLI's
 * `--strategy` choices and the control API all take it from here.
 */
export const STRATEGIES = ['weighted', 'sticky'] as const;
export type Strategy = (typeof STRATEGIES)[number];
