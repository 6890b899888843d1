/**
 * A strict XML well-formedness check for the SVGs bgctl writes (no XML parser among the dependencies):
 * one root element, every tag closed in order, attributes quoted and unique, `<` and `&` in text and
 * attribute values only as references. Returns the problems found (empty: well-formed) and the elements.
 */
export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  /** the element's direct text, entities decoded */
  text: string;
}

const NAME = '[A-Za-z_][\\w.:-]*';
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
const decode = (s: string): string =>
  s.replace(ENTITY, (e) =>
    e === '&amp;'
      ? '&'
      : e === '&lt;'
        ? '<'
        : e === '&gt;'
          ? '>'
          : e === '&quot;'
            ? '"'
            : e === '&apos;'
              ? "'"
              : String.fromCodePoint(Number(e.startsWith('&#x') ? `0x${e.slice(3, -1)}` : e.slice(2, -1))),
  );
const badRefs = (s: string): boolean => /&/.test(s.replace(ENTITY, ''));

export function parseXml(xml: string): { problems: string[]; elements: XmlElement[] } {
  const problems: string[] = [];
  const elements: XmlElement[] = [];
  const stack: XmlElement[] = [];
  let roots = 0;
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const token = new RegExp(`<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>|<!--[\\s\\S]*?-->|<`, 'g');
  let last = 0;
  for (let m = token.exec(body); m !== null; m = token.exec(body)) {
    const text = body.slice(last, m.index);
    last = token.lastIndex;
    if (text.trim() !== '') {
      if (stack.length === 0) problems.push(`text outside the root: ${JSON.stringify(text.slice(0, 40))}`);
      if (badRefs(text)) problems.push(`bare & in text: ${JSON.stringify(text.slice(0, 40))}`);
      const top = stack[stack.length - 1];
      if (top) top.text += decode(text);
    }
    if (m[0] === '<') {
      problems.push(`malformed tag at ${m.index}: ${JSON.stringify(body.slice(m.index, m.index + 60))}`);
      continue;
    }
    if (m[0].startsWith('<!--')) continue;
    const [, closing, name = '', attrText = '', selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      if (open?.name !== name) problems.push(`</${name}> closes <${open?.name ?? 'nothing'}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText.matchAll(new RegExp(`(${NAME})\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, 'g'))) {
      const [, key = '', dq, sq] = a;
      const value = dq ?? sq ?? '';
      if (key in attrs) problems.push(`<${name}> repeats attribute ${key}`);
      if (badRefs(value)) problems.push(`bare & in ${name}@${key}`);
      attrs[key] = decode(value);
    }
    const el: XmlElement = { name, attrs, text: '' };
    elements.push(el);
    if (stack.length === 0) roots++;
    if (!selfClosing) stack.push(el);
  }
  if (body.slice(last).trim() !== '') problems.push('text after the root');
  if (stack.length > 0) problems.push(`unclosed: ${stack.map((e) => e.name).join(' > ')}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return { problems, elements };
}
