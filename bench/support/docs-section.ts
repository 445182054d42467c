/**
 * Keep a generated section of a Markdown file up to date: the text between
 * `<!-- <name>:begin -->` and `<!-- <name>:end -->` is replaced, everything else is left alone.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export function replaceMarkedSection(file: string, name: string, body: string): void {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${body.trimEnd()}\n${end}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) {
    writeFileSync(file, text.slice(0, from) + block + text.slice(to + end.length));
    return;
  }
  if (from >= 0 || to >= 0) throw new Error(`${file}: unbalanced ${begin} / ${end} markers`);
  writeFileSync(file, `${text.trimEnd()}${text === '' ? '' : '\n\n'}${block}\n`);
}
