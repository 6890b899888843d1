import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';

export interface Position {
  readonly line: number;
  readonly col: number;
}

/** Finds where a key path is written in the config text: YAML, or JSON (which the YAML parser reads too). */
export type Locate = (path: readonly PropertyKey[], unknownKey?: string) => Position | null;

/**
 * Pure: the text → a function from key path (and an unknown key in the object there) to line:col. The
 * text is parsed again only when a position is asked for (a config with a problem), never for a good one.
 */
export function locator(text: string): Locate {
  const lineCounter = new LineCounter();
  let parsed: ReturnType<typeof parseDocument> | undefined;
  const at = (offset: number | undefined): Position | null => (offset === undefined ? null : lineCounter.linePos(offset));
  return (path, unknownKey) => {
    const doc = (parsed ??= parseDocument(text, { lineCounter, prettyErrors: false }));
    let node: unknown = doc.contents;
    let keyStart: number | undefined = doc.contents?.range?.[0];
    const segments = unknownKey === undefined ? path : [...path, unknownKey];
    for (const seg of segments) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        // a key that is not written (a required key missing): point at the object that lacks it
        if (!pair) return at(keyStart);
        keyStart = (pair.key as Node).range?.[0];
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item) return at(keyStart);
        keyStart = item.range?.[0];
        node = item;
      } else return at(keyStart);
    }
    return at(keyStart);
  };
}
