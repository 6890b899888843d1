/** Data plane: each of bgctl's configs and the minimal config it is compared with (on the same NGINX). */
export const PAIRS = [
  ['reload', 'minimal'],
  ['dynamic', 'minimal'],
  ['dynamic08', 'minimal08'],
];

/** The key of a ratio in the data plane's summary, e.g. rpsDynamic08VsMinimal08. */
export const ratioKey = (kind, id, base) => `${kind}${id[0].toUpperCase()}${id.slice(1)}Vs${base[0].toUpperCase()}${base.slice(1)}`;
