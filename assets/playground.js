// The playground: runs the prompt on each chosen model at once and shows the answers as they
// stream in. One request per model; Stop (or leaving the page) aborts them, which the server
// turns into cancelled runs and aborted upstream calls.

const form = document.getElementById('playground');

if (form) {
  const columns = document.getElementById('columns');
  const runButton = document.getElementById('run');
  const stopButton = document.getElementById('stop');
  const errorLine = document.getElementById('run-error');
  let controllers = [];

  const money = (v) => (v === null || v === undefined ? 'price unknown' : `$${v.toFixed(6)}`);

  const column = (model) => {
    const col = document.createElement('section');
    col.className = 'column panel';
    const title = document.createElement('h2');
    title.textContent = model;
    const meta = document.createElement('p');
    meta.className = 'muted small run-meta';
    meta.textContent = 'waiting…';
    meta.setAttribute('role', 'status');
    const out = document.createElement('pre');
    out.className = 'prompt output';
    col.append(title, meta, out);
    columns.append(col);
    return { col, title, meta, out };
  };

  const finish = (view, s) => {
    view.col.dataset.state = s.state;
    const parts = [s.cached ? `${s.state} (cached)` : s.state, `${s.input_tokens} in / ${s.output_tokens} out tokens`, money(s.cost_usd), `${s.latency_ms} ms`];
    if (s.ttft_ms !== null && s.ttft_ms !== undefined) parts.push(`first output ${s.ttft_ms} ms`);
    view.meta.textContent = parts.join(' · ');
    if (s.error) {
      const err = document.createElement('p');
      err.className = 'field-error';
      err.setAttribute('role', 'alert');
      err.textContent = s.error;
      view.col.append(err);
    }
  };

  const runOne = async (model, body, controller) => {
    const view = column(model);
    try {
      const response = await fetch(form.dataset.run, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ...body, model }),
        signal: controller.signal,
      });
      if (!response.ok) {
        // Refusals come back as an error page: show its message.
        const html = await response.text();
        const doc = new DOMParser().parseFromString(html, 'text/html');
        const alert = doc.querySelector('[role="alert"]');
        view.meta.textContent = alert ? alert.textContent.trim() : `failed (${response.status})`;
        view.col.dataset.state = 'failed';
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (!line.trim()) continue;
          const event = JSON.parse(line);
          if (event.type === 'started') {
            view.meta.textContent = event.cached ? 'from the cache…' : 'streaming…';
            view.col.dataset.run = event.run_id;
            // A fallback model answered: say which.
            if (event.model !== model) view.title.textContent = `${model} → ${event.model}`;
          } else if (event.type === 'delta') {
            view.out.textContent += event.text;
          } else if (event.type === 'finished') {
            finish(view, event);
          }
        }
      }
    } catch (err) {
      if (err.name === 'AbortError') {
        view.meta.textContent = 'stopped';
        view.col.dataset.state = 'cancelled';
      } else {
        view.meta.textContent = `failed: ${err.message}`;
        view.col.dataset.state = 'failed';
      }
    }
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errorLine.textContent = '';
    const data = new FormData(form);
    const models = data.getAll('model');
    if (models.length === 0 || models.length > 4) {
      errorLine.textContent = 'Choose one to four models.';
      return;
    }
    const variables = {};
    for (const input of form.querySelectorAll('[data-var]')) {
      if (input.value !== '') variables[input.dataset.var] = input.value;
    }
    const number = (name) => (data.get(name) ? Number(data.get(name)) : undefined);
    const body = {
      system_prompt: data.get('system_prompt') ?? '',
      user_prompt: data.get('user_prompt') ?? '',
      temperature: number('temperature'),
      max_tokens: number('max_tokens'),
      use_cache: data.get('use_cache') === 'on',
    };
    if (data.get('template_id')) {
      body.template_id = data.get('template_id');
      body.template_version = Number(data.get('template_version'));
      body.variables = variables;
    } else if (data.get('community_id')) {
      body.community_id = data.get('community_id');
      body.variables = variables;
    }
    // The folder context built in this browser, when the user keeps it included.
    const context = window.promptyardContext?.();
    if (context) {
      body.context = context.text;
      body.context_manifest = context.manifest;
    }
    columns.replaceChildren();
    controllers = models.map(() => new AbortController());
    runButton.disabled = true;
    stopButton.disabled = false;
    await Promise.all(models.map((m, i) => runOne(m, body, controllers[i])));
    runButton.disabled = false;
    stopButton.disabled = true;
  });

  stopButton.addEventListener('click', () => {
    for (const c of controllers) c.abort();
  });
}
