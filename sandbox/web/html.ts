/** Small server-side HTML helpers for the sandbox pages: escaping, the page frame, tables, forms. */

export const escapeHtml = (value: unknown): string =>
  String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');

/** Marks trusted markup (built from escaped parts). */
export interface Html {
  readonly html: string;
}

export const raw = (html: string): Html => ({ html });

const render = (value: unknown): string => {
  if (value === undefined || value === null || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (typeof value === 'object' && 'html' in value) return String((value as Html).html);
  return escapeHtml(value);
};

/** Tagged template: interpolations are escaped unless they are `Html` (or arrays of them). */
export const html = (strings: TemplateStringsArray, ...values: unknown[]): Html =>
  raw(
    strings.reduce(
      (out, text, index) => out + text + (index < values.length ? render(values[index]) : ''),
      '',
    ),
  );

/** Shortens long identifiers for tables; the full value stays in the tooltip. */
export const short = (value: unknown, keep = 18): Html => {
  const text = String(value ?? '');
  if (text.length <= keep + 3) return html`<span>${text}</span>`;
  return html`<span class="id" title="${text}">…${text.slice(-keep)}</span>`;
};

export const json = (value: unknown, max = 160): Html => {
  const text = JSON.stringify(value) ?? '';
  const shown = text.length > max ? `${text.slice(0, max)}…` : text;
  return html`<code title="${text.length > max ? text.slice(0, 4000) : ''}">${shown}</code>`;
};

export const time = (iso: unknown): Html => {
  const text = String(iso ?? '');
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2})?)/.exec(text);
  return match ? html`<time datetime="${text}">${match[1]} ${match[2]}</time>` : html`${text}`;
};

export interface Column<T> {
  readonly label: string;
  readonly cell: (row: T) => unknown;
  /** A class for the column's cells, e.g. `grow` for the column that should take the room. */
  readonly className?: string;
}

export const table = <T>(rows: readonly T[], columns: readonly Column<T>[], empty: string): Html =>
  rows.length === 0
    ? html`<p class="empty">${empty}</p>`
    : html`<div class="scroll"><table>
<thead><tr>${columns.map((column) => html`<th${raw(column.className ? ` class="${escapeHtml(column.className)}"` : '')}>${column.label}</th>`)}</tr></thead>
<tbody>${rows.map((row) => html`<tr>${columns.map((column) => html`<td${raw(column.className ? ` class="${escapeHtml(column.className)}"` : '')}>${column.cell(row)}</td>`)}</tr>`)}</tbody>
</table></div>`;

export const badge = (text: string, tone: 'ok' | 'warn' | 'bad' | 'info' = 'info'): Html =>
  html`<span class="badge ${tone}">${text}</span>`;

/** A POST form that performs a sandbox action and comes back to `back`. */
export const actionForm = (
  action: string,
  back: string,
  fields: Html | Html[],
  button: string,
  tone = '',
  /** Why the action does not apply now: the button is disabled and says so on hover. */
  disabledBecause?: string,
): Html =>
  html`<form method="post" action="${action}" class="inline"><input type="hidden" name="back" value="${back}">${fields}<button type="submit" class="${tone}"${disabledBecause === undefined ? '' : html` disabled title="${disabledBecause}"`}>${button}</button></form>`;

export const hidden = (name: string, value: unknown): Html =>
  html`<input type="hidden" name="${name}" value="${String(value ?? '')}">`;

export const select = (
  name: string,
  options: readonly { value: string; label: string }[],
  selected?: string,
  label?: string,
): Html =>
  html`<label>${label ? html`<span>${label}</span>` : ''}<select name="${name}">${options.map(
    (option) =>
      html`<option value="${option.value}"${raw(option.value === selected ? ' selected' : '')}>${option.label}</option>`,
  )}</select></label>`;

const styles = `
:root { color-scheme: light; --ink:#1d2330; --muted:#5d6679; --line:#dfe3ea; --bg:#f5f7fa; --card:#fff; --accent:#2457c5; --ok:#1e7b45; --warn:#9a6500; --bad:#b3261e; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif; color:var(--ink); background:var(--bg); }
header { display:flex; flex-wrap:wrap; gap:12px 24px; align-items:center; padding:10px 20px; background:#1d2330; color:#fff; }
header h1 { font-size:16px; margin:0; font-weight:600; }
header nav a { color:#c9d6ff; margin-right:14px; text-decoration:none; }
header nav a.current { color:#fff; font-weight:600; border-bottom:2px solid #fff; }
header nav .muted { color:#9aa7c0; font-size:12px; } header nav code { color:#c9d6ff; }
header .clock { margin-left:auto; display:flex; gap:8px; align-items:center; font-variant-numeric:tabular-nums; }
main { padding:16px 20px 40px; max-width:1500px; margin:0 auto; }
h2 { font-size:15px; margin:0 0 8px; }
h3 { font-size:13px; margin:12px 0 6px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(min(460px,100%),1fr)); gap:14px; }
@media (max-width:600px) { main { padding:12px 8px 32px; } header { padding:8px 10px; } header .clock { margin-left:0; } }
section.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; min-width:0; }
section.wide { grid-column:1/-1; }
p.note, p.empty { color:var(--muted); margin:4px 0 8px; }
.scroll { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; white-space:nowrap; }
code { font:12px ui-monospace,SFMono-Regular,Menlo,monospace; overflow-wrap:anywhere; }
.id { font-family:ui-monospace,Menlo,monospace; font-size:12px; white-space:nowrap; }
time { white-space:nowrap; }
th.grow, td.grow { width:55%; }
.badge { display:inline-block; padding:0 7px; border-radius:10px; font-size:12px; background:#e8edf7; color:var(--accent); white-space:nowrap; }
.badge.ok { background:#e3f3e9; color:var(--ok); } .badge.warn { background:#fdf1dc; color:var(--warn); } .badge.bad { background:#fbe4e2; color:var(--bad); }
form.inline { display:inline-flex; gap:6px; align-items:center; margin:2px 6px 2px 0; flex-wrap:wrap; }
form.stack { display:flex; gap:10px; align-items:flex-end; flex-wrap:wrap; margin:6px 0; }
label { display:inline-flex; flex-direction:column; gap:2px; font-size:12px; color:var(--muted); }
label.check { flex-direction:row; align-items:center; gap:6px; color:var(--ink); }
select, input[type=number], input[type=text] { font:inherit; padding:3px 6px; border:1px solid #c4cbd7; border-radius:5px; background:#fff; }
button { white-space:nowrap; font:inherit; padding:4px 10px; border-radius:5px; border:1px solid #c4cbd7; background:#fff; cursor:pointer; }
button:hover { border-color:var(--accent); }
button:disabled { opacity:.45; cursor:not-allowed; }
button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
button.danger { color:var(--bad); }
.flash { margin:0 0 14px; padding:8px 12px; border-radius:6px; background:#e3f3e9; color:var(--ok); }
.flash.error { background:#fbe4e2; color:var(--bad); }
ul.plain { margin:4px 0; padding-left:18px; }
.glance { display:grid; grid-template-columns:repeat(auto-fit,minmax(min(260px,100%),1fr)); gap:6px 18px; }
.glance p { margin:4px 0; }
.bars { display:flex; align-items:flex-end; gap:3px; height:48px; border-bottom:1px solid var(--line); }
.bar { flex:1; min-height:1px; background:var(--accent); border-radius:2px 2px 0 0; }
.bar-axis { display:flex; justify-content:space-between; color:var(--muted); }
nav.filters { display:flex; flex-wrap:wrap; gap:4px 12px; margin:0 0 6px; font-size:12px; }
small.muted { color:var(--muted); }
`;

const refreshScript = `
(() => {
  const live = document.querySelector('[data-live]');
  if (!live) return;
  const busy = () => { const el = document.activeElement; return el && live.contains(el) && el.matches('input, select, textarea'); };
  // Replacing the body would drop a selection a person is making or copying.
  const selecting = () => { const selection = getSelection(); return selection && !selection.isCollapsed && live.contains(selection.anchorNode); };
  setInterval(async () => {
    if (document.hidden || busy() || selecting()) return;
    try {
      // The same query (e.g. a filter) as the page shows.
      const url = new URL(location.href);
      url.searchParams.set('partial', '1');
      const response = await fetch(url, { cache: 'no-store' });
      if (response.ok) live.innerHTML = await response.text();
    } catch {}
  }, ${2_000});
})();
`;

export interface PageFrame {
  readonly title: string;
  readonly current: string;
  readonly body: Html;
  readonly clock: Html;
  readonly flash?: { readonly text: string; readonly error: boolean } | undefined;
  /** Refresh the body (not the message above it) every two seconds. */
  readonly refresh?: boolean;
  readonly fulfillmentUrl?: string | undefined;
}

export const page = (frame: PageFrame): string =>
  html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${frame.title} · Marketplace Bridge sandbox</title>
<style>${raw(styles)}</style>
</head>
<body>
<header>
<h1>Marketplace Bridge sandbox</h1>
<nav>
<a href="/" class="${frame.current === '/' ? 'current' : ''}">Buyer simulator</a>
<a href="/dashboard" class="${frame.current === '/dashboard' ? 'current' : ''}">Dashboard</a>
${frame.fulfillmentUrl ? html`<span class="muted" title="AWS Marketplace POSTs buyers here">fulfillment URL <code>${frame.fulfillmentUrl}</code></span>` : ''}
</nav>
<div class="clock">${frame.clock}</div>
</header>
<main>
${frame.flash ? html`<p class="flash${frame.flash.error ? ' error' : ''}">${frame.flash.text}</p>` : ''}
${frame.refresh ? html`<div data-live>${frame.body}</div>` : frame.body}
</main>
${frame.refresh ? html`<script>${raw(refreshScript)}</script>` : ''}
</body>
</html>`.html;
