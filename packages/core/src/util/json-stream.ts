/**
 * Splits the concatenated JSON objects the go command prints (`go list -json`,
 * `go mod download -json`) into values, tracking string and escape state so braces
 * inside strings never cut an object.
 */
export function parseJsonStream<T>(text: string): T[] {
  const out: T[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}') {
      if (--depth === 0) out.push(JSON.parse(text.slice(start, i + 1)) as T);
    }
  }
  if (depth !== 0) throw new Error('truncated JSON stream');
  return out;
}
