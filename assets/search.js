// The search page: results refresh as you type (250 ms after the last key), from
// /api/search, without reloading the page. Text goes in with textContent; only the snippet,
// which the server HTML-escaped before adding its <b> marks, is set as markup.

const form = document.getElementById('search-form');

if (form) {
  const input = document.getElementById('search-q');
  const sort = document.getElementById('search-sort');
  const stateFilter = document.getElementById('search-state');
  const modelFilter = document.getElementById('search-model');
  const body = document.getElementById('search-body');
  const errorBox = document.getElementById('search-error');
  const scope = form.elements.scope.value;
  let timer = null;
  let controller = null;

  const el = (tag, props = {}, children = []) => {
    const node = document.createElement(tag);
    Object.assign(node, props);
    for (const c of children) node.append(c);
    return node;
  };

  const withFilter = (filter, value) => {
    const v = value.includes(' ') ? `"${value}"` : value;
    return `${input.value.trim()} ${filter}:${v}`.trim();
  };

  const facetLinks = (label, items, filter) => {
    const span = el('span', { textContent: label });
    const out = [span];
    for (const [value, n] of items) {
      const a = el('a', { className: 'tag', href: '#', textContent: `${filter === 'tag' ? '#' : ''}${value} (${n})` });
      a.addEventListener('click', (e) => {
        e.preventDefault();
        input.value = withFilter(filter, value);
        refresh();
      });
      out.push(a, ' ');
    }
    return out;
  };

  const render = (data) => {
    const parts = [];
    if (data.rebuilding_percent !== undefined) {
      parts.push(el('div', { className: 'flash flash-error', role: 'status', textContent: `The search index is rebuilding (${data.rebuilding_percent}%); results are incomplete until it finishes.` }));
    }
    parts.push(el('p', { className: 'muted small', id: 'search-count', textContent: `${data.total} results` }));
    if (data.tags.length || data.models.length) {
      const f = el('div', { className: 'facets small' });
      if (data.tags.length) f.append(...facetLinks('Tags: ', data.tags, 'tag'));
      if (data.models.length) f.append(...facetLinks(' Models: ', data.models, 'model'));
      parts.push(f);
    }
    const list = el('ol', { className: 'results', id: 'search-results' });
    for (const h of data.hits) {
      const href = h.kind === 'prompt' ? `/community/p/${h.id}` : `/w/${h.workspace}/runs/${h.id}`;
      const title = el('h3', {}, [el('a', { href, textContent: h.title || '(untitled)' }), ' ', el('span', { className: 'badge', textContent: h.state })]);
      const snippet = el('p', { className: 'snippet' });
      snippet.innerHTML = h.snippet_html;
      const meta = el('p', { className: 'meta small' });
      if (h.time) meta.append(new Date(h.time).toISOString().slice(0, 16).replace('T', ' ') + ' UTC · ');
      for (const m of h.models) meta.append(el('code', { textContent: m }), ' ');
      if (h.kind === 'prompt') meta.append(`★ ${h.rating.toFixed(1)} · used ${h.usage}`);
      list.append(el('li', { className: 'card' }, [title, snippet, meta]));
    }
    parts.push(list);
    body.replaceChildren(...parts);
  };

  const refresh = async () => {
    controller?.abort();
    controller = new AbortController();
    const state = stateFilter?.value ?? '';
    const model = (modelFilter?.value ?? '').trim();
    const page = new URLSearchParams({ scope, q: input.value, sort: sort.value, state, model });
    history.replaceState(null, '', `${form.action}?${page}`);
    // The API takes the filters as part of the query, as the search box would.
    let q = input.value.trim();
    if (state) q = `${q} state:${state}`.trim();
    if (model) q = `${q} model:${model.includes(' ') ? `"${model}"` : model}`.trim();
    const params = new URLSearchParams({ scope, q, sort: sort.value });
    try {
      const res = await fetch(`${form.dataset.api}?${params}`, { signal: controller.signal, headers: { accept: 'application/json' } });
      const data = await res.json();
      if (!res.ok) {
        errorBox.replaceChildren(el('div', { className: 'flash flash-error', textContent: data.error?.message ?? `search failed (${res.status})` }));
        body.replaceChildren();
        return;
      }
      errorBox.replaceChildren();
      render(data);
    } catch (e) {
      if (e.name !== 'AbortError') errorBox.replaceChildren(el('div', { className: 'flash flash-error', textContent: 'The search could not be reached.' }));
    }
  };

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
  sort.addEventListener('change', refresh);
  stateFilter?.addEventListener('change', refresh);
  modelFilter?.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
}
