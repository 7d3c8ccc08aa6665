// A libpq connection string without its secrets (password, sslpassword), for a subscription's
// CONNECTION: what a backup may keep of it. Both forms: `key = value …` (values quoted with '…'
// and backslash escapes) and `postgresql://user:secret@host/db?password=…`. Anything that does not
// parse is dropped whole (undefined): a malformed string could hide a secret anywhere.

const SECRET_KEYS = new Set(['password', 'sslpassword']);

export function conninfoWithoutSecrets(conninfo: string): string | undefined {
  const text = conninfo.trim();
  if (/^postgres(ql)?:\/\//.test(text)) return uriWithoutSecrets(text);
  const pairs = parseKeywordValue(text);
  if (!pairs) return undefined;
  return pairs
    .filter(([k]) => !SECRET_KEYS.has(k))
    .map(([k, v]) => `${k}=${quoteValue(v)}`)
    .join(' ');
}

function parseKeywordValue(text: string): [string, string][] | undefined {
  const pairs: [string, string][] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  for (skipSpace(); i < text.length; skipSpace()) {
    const key = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))?.[0];
    if (!key) return undefined;
    i += key.length;
    skipSpace();
    if (text[i] !== '=') return undefined;
    i++;
    skipSpace();
    let value = '';
    if (text[i] === "'") {
      for (i++; ; i++) {
        if (i >= text.length) return undefined;
        if (text[i] === '\\' && i + 1 < text.length) value += text[++i];
        else if (text[i] === "'") break;
        else value += text[i];
      }
      i++;
    } else {
      while (i < text.length && !/\s/.test(text[i]!)) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i++];
      }
    }
    pairs.push([key, value]);
  }
  return pairs;
}

function quoteValue(value: string): string {
  if (value !== '' && /^[^\s'\\]+$/.test(value)) return value;
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

function uriWithoutSecrets(uri: string): string | undefined {
  const m = /^(postgres(?:ql)?:\/\/)([^/?#]*)(.*)$/.exec(uri);
  if (!m) return undefined;
  const [, scheme, authority, rest] = m;
  const at = authority!.lastIndexOf('@');
  const userinfo = at >= 0 ? authority!.slice(0, at) : undefined;
  const hosts = at >= 0 ? authority!.slice(at + 1) : authority!;
  const user = userinfo === undefined ? '' : `${userinfo.split(':')[0]}@`;
  const q = rest!.indexOf('?');
  if (q < 0) return `${scheme}${user}${hosts}${rest}`;
  const params = rest!
    .slice(q + 1)
    .split('&')
    .filter((p) => !SECRET_KEYS.has(decodeURIComponent(p.split('=')[0] ?? '').toLowerCase()));
  return `${scheme}${user}${hosts}${rest!.slice(0, q)}${params.length ? `?${params.join('&')}` : ''}`;
}
