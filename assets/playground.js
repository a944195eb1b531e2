// The playground: runs the prompt on each chosen model at once and shows the answers as they
// stream in. One request per model; Stop (or leaving the page) aborts them, which the server
// turns into cancelled runs and aborted upstream calls.
//
// Each model's column is a conversation: after an answer the user can reply, type the result
// of each tool call the model made, remove a turn (and those after it) and run again from
// there. Tools and a response schema are JSON panels checked as you type; answers are checked
// against the schema by the server, which says whether they follow it. Images attach to the
// prompt as data URLs.

const form = document.getElementById('playground');

if (form) {
  const columns = document.getElementById('columns');
  const runButton = document.getElementById('run');
  const stopButton = document.getElementById('stop');
  const errorLine = document.getElementById('run-error');
  const toolsInput = document.getElementById('tools');
  const schemaInput = document.getElementById('response-schema');
  const imageInput = document.getElementById('images');
  const thumbs = document.getElementById('image-thumbs');
  const MAX_IMAGES = 4;
  const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
  let controllers = [];
  let images = [];
  let edited = false;

  const el = (tag, className, text) => {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  // As the run page says it: "free", two significant digits below a cent, else four decimals.
  const money = (v) => {
    if (v === null || v === undefined) return 'price unknown';
    if (v === 0) return 'free';
    if (v < 0.01) return `$${v.toFixed(-Math.floor(Math.log10(v)) + 1)}`;
    return `$${v.toFixed(4)}`;
  };
  const pretty = (text) => {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return null;
    }
  };

  // ----- the JSON panels, checked as you type

  const checkPanel = (input, status, what) => {
    const text = input.value.trim();
    if (!text) {
      status.textContent = what === 'tools' ? 'No tools.' : 'No schema: the answer is free text.';
      input.removeAttribute('aria-invalid');
      return { ok: true, value: undefined };
    }
    try {
      const value = JSON.parse(text);
      if (what === 'tools') {
        if (!Array.isArray(value)) throw new Error('the tools must be a JSON list');
        value.forEach((t, i) => {
          if (!t?.function?.name) throw new Error(`tool ${i + 1} has no function.name`);
        });
        status.textContent = `Valid JSON: ${value.length} tool${value.length === 1 ? '' : 's'} (${value.map((t) => t.function.name).join(', ')}).`;
      } else {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('a schema is a JSON object');
        status.textContent = 'Valid JSON; the server checks it is a JSON Schema when you run.';
      }
      input.removeAttribute('aria-invalid');
      return { ok: true, value };
    } catch (err) {
      status.textContent = `Not valid: ${err.message}`;
      input.setAttribute('aria-invalid', 'true');
      return { ok: false };
    }
  };
  const panels = [
    [toolsInput, document.getElementById('tools-status'), 'tools'],
    [schemaInput, document.getElementById('schema-status'), 'schema'],
  ].filter(([input]) => input);
  for (const [input, status, what] of panels) {
    input.addEventListener('input', () => checkPanel(input, status, what));
    if (input.value.trim()) checkPanel(input, status, what);
  }

  // ----- images

  const showThumbs = () => {
    thumbs.replaceChildren();
    images.forEach((url, i) => {
      const fig = el('figure', 'thumb');
      const img = el('img');
      img.src = url;
      img.alt = `attached image ${i + 1}`;
      const remove = el('button', 'button small', 'Remove');
      remove.type = 'button';
      remove.setAttribute('aria-label', `Remove image ${i + 1}`);
      remove.addEventListener('click', () => {
        images.splice(i, 1);
        showThumbs();
      });
      fig.append(img, remove);
      thumbs.append(fig);
    });
  };
  imageInput?.addEventListener('change', async () => {
    errorLine.textContent = '';
    for (const file of imageInput.files) {
      if (images.length >= MAX_IMAGES) {
        errorLine.textContent = `At most ${MAX_IMAGES} images.`;
        break;
      }
      if (file.size > MAX_IMAGE_BYTES) {
        errorLine.textContent = `${file.name} is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MiB.`;
        continue;
      }
      const url = await new Promise((ok, fail) => {
        const reader = new FileReader();
        reader.onload = () => ok(reader.result);
        reader.onerror = () => fail(reader.error);
        reader.readAsDataURL(file);
      });
      images.push(url);
    }
    imageInput.value = '';
    showThumbs();
  });

  // ----- a column: one model's conversation

  const toolCards = (container, calls) => {
    container.replaceChildren();
    for (const call of calls) {
      const card = el('div', 'tool-card');
      const head = el('p', 'tool-card-head');
      head.append(el('span', 'badge', 'tool call'), ' ', el('code', '', call.name || '?'));
      const args = pretty(call.arguments);
      if (args === null) head.append(' ', el('span', 'badge badge-warn', 'arguments are not JSON'));
      card.append(head, el('pre', 'prompt', args ?? call.arguments));
      container.append(card);
    }
  };

  const column = (model) => {
    const col = el('section', 'column panel');
    col.dataset.model = model;
    const title = el('h2', '', model);
    const turns = el('div', 'turns');
    const reply = el('form', 'continue stack');
    reply.hidden = true;
    col.append(title, turns, reply);
    columns.append(col);
    return { col, title, turns, reply, model, conversation: [], controller: null };
  };

  // A turn of the conversation (a user reply or a tool result) as the column shows it.
  const addTurn = (view, message) => {
    const index = view.conversation.length;
    view.conversation.push(message);
    const turn = el('div', `turn turn-${message.role}`);
    turn.dataset.index = String(index);
    const label = message.role === 'tool' ? `result of ${message.name ?? 'the tool'}` : 'you';
    turn.append(el('p', 'muted small', label), el('pre', 'prompt', message.content));
    turn.append(removeButton(view, index));
    view.turns.append(turn);
  };

  const removeButton = (view, index) => {
    const b = el('button', 'button small ghost', 'Remove from here');
    b.type = 'button';
    b.addEventListener('click', () => {
      view.conversation = view.conversation.slice(0, index);
      for (const t of [...view.turns.children]) {
        if (Number(t.dataset.index) >= index) t.remove();
      }
      showReply(view);
    });
    return b;
  };

  // The reply form: a result field per pending tool call, a message, Send and Run again.
  const showReply = (view) => {
    const last = view.conversation[view.conversation.length - 1];
    const pending = last?.role === 'assistant' ? last.tool_calls ?? [] : [];
    view.reply.replaceChildren();
    const results = pending.map((call) => {
      const id = `result-${view.model}-${call.id}`.replace(/[^A-Za-z0-9_-]/g, '_');
      const field = el('div', 'field');
      const label = el('label', '', `Result of ${call.function.name}`);
      label.htmlFor = id;
      const input = el('textarea', 'code tool-result');
      input.id = id;
      input.rows = 2;
      input.placeholder = '{"result": "…"}';
      field.append(label, input);
      view.reply.append(field);
      return [call, input];
    });
    const id = `reply-${view.model}`.replace(/[^A-Za-z0-9_-]/g, '_');
    const field = el('div', 'field');
    const label = el('label', '', pending.length ? 'And a message (optional)' : 'Your reply');
    label.htmlFor = id;
    const text = el('textarea', 'code reply-text');
    text.id = id;
    text.rows = 2;
    field.append(label, text);
    const actions = el('div', 'actions');
    const send = el('button', 'button primary small', 'Send');
    send.type = 'submit';
    const again = el('button', 'button small', 'Run again from here');
    again.type = 'button';
    actions.append(send, again);
    view.reply.append(field, actions);
    view.reply.hidden = false;
    view.reply.onsubmit = (event) => {
      event.preventDefault();
      for (const [call, input] of results) {
        addTurn(view, { role: 'tool', tool_call_id: call.id, name: call.function.name, content: input.value });
      }
      if (text.value.trim()) addTurn(view, { role: 'user', content: text.value });
      if (!results.length && !text.value.trim()) return;
      rerun(view);
    };
    again.onclick = () => rerun(view);
  };

  let lastBody = null;
  const rerun = (view) => {
    if (!lastBody) return;
    view.reply.hidden = true;
    view.controller = new AbortController();
    controllers = [view.controller];
    stopButton.disabled = false;
    runOne(view, { ...lastBody, conversation: view.conversation }, view.controller).finally(() => {
      stopButton.disabled = true;
    });
  };

  const finish = (answer, s) => {
    answer.turn.dataset.state = s.state;
    const parts = [s.cached ? `${s.state} (cached)` : s.state, `${s.input_tokens} in / ${s.output_tokens} out tokens`, money(s.cost_usd), `${s.latency_ms} ms`];
    if (s.ttft_ms !== null && s.ttft_ms !== undefined) parts.push(`first output ${s.ttft_ms} ms`);
    answer.meta.textContent = parts.join(' · ');
    if (s.schema_valid !== undefined) {
      const badge = el('p', `schema-badge ${s.schema_valid ? 'valid' : 'invalid'}`);
      badge.append(el('span', s.schema_valid ? 'badge badge-ok' : 'badge badge-warn', s.schema_valid ? 'valid against the schema' : 'does not match the schema'));
      if (s.schema_problem) badge.append(' ', el('span', 'small', s.schema_problem));
      answer.turn.append(badge);
      const p = pretty(answer.out.textContent);
      if (p !== null) answer.out.textContent = p;
    }
    if (s.error) {
      const err = el('p', 'field-error', s.error);
      err.setAttribute('role', 'alert');
      answer.turn.append(err);
    }
  };

  const runOne = async (view, body, controller) => {
    const index = view.conversation.length;
    const turn = el('div', 'turn turn-assistant');
    turn.dataset.index = String(index);
    const meta = el('p', 'muted small run-meta', 'waiting…');
    meta.setAttribute('role', 'status');
    const out = el('pre', 'prompt output');
    const cards = el('div', 'tool-cards');
    turn.append(meta, out, cards);
    view.turns.append(turn);
    const answer = { turn, meta, out };
    const calls = [];
    let finished = null;
    try {
      const response = await fetch(form.dataset.run, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ...body, model: view.model }),
        signal: controller.signal,
      });
      if (!response.ok) {
        // Refusals come back as an error page: show its message.
        const html = await response.text();
        const doc = new DOMParser().parseFromString(html, 'text/html');
        const alert = doc.querySelector('[role="alert"]');
        meta.textContent = alert ? alert.textContent.trim() : `failed (${response.status})`;
        turn.dataset.state = 'failed';
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
            meta.textContent = event.cached ? 'from the cache…' : 'streaming…';
            turn.dataset.run = event.run_id;
            view.col.dataset.run = event.run_id;
            // A fallback model answered: say which.
            if (event.model !== view.model) view.title.textContent = `${view.model} → ${event.model}`;
          } else if (event.type === 'delta') {
            out.textContent += event.text;
          } else if (event.type === 'tool_call') {
            const call = (calls[event.index] ??= { id: '', name: '', arguments: '' });
            if (event.id) call.id = event.id;
            if (event.name) call.name = event.name;
            call.arguments += event.arguments ?? '';
            toolCards(cards, calls);
          } else if (event.type === 'refusal') {
            out.textContent += event.text;
          } else if (event.type === 'finished') {
            finished = event;
            finish(answer, event);
          }
        }
      }
    } catch (err) {
      if (err.name === 'AbortError') {
        meta.textContent = 'stopped';
        turn.dataset.state = 'cancelled';
      } else {
        meta.textContent = `failed: ${err.message}`;
        turn.dataset.state = 'failed';
      }
    }
    view.col.dataset.state = turn.dataset.state ?? 'failed';
    // An answer that is only tool calls shows only their cards.
    if (!out.textContent && calls.length) out.hidden = true;
    if (finished?.state === 'completed') {
      const message = { role: 'assistant', content: out.textContent || null };
      const toolCalls = (finished.tool_calls ?? calls).map((c) => ({
        id: c.id,
        type: 'function',
        function: c.function ?? { name: c.name, arguments: c.arguments },
      }));
      if (toolCalls.length) message.tool_calls = toolCalls;
      view.conversation.push(message);
      turn.append(removeButton(view, index));
    } else {
      turn.append(removeButton(view, index));
    }
    showReply(view);
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
    for (const [input, status, what] of panels) {
      const checked = checkPanel(input, status, what);
      if (!checked.ok) {
        errorLine.textContent = `Fix the ${what === 'tools' ? 'tools' : 'response schema'} first.`;
        return;
      }
      if (checked.value !== undefined) body[what === 'tools' ? 'tools' : 'response_schema'] = checked.value;
    }
    if (images.length) body.images = images;
    if (data.get('template_id')) {
      body.template_id = data.get('template_id');
      body.template_version = Number(data.get('template_version'));
      body.variables = variables;
      body.edited = edited;
    } else if (data.get('community_id')) {
      body.community_id = data.get('community_id');
      body.variables = variables;
      body.edited = edited;
    }
    // The folder context built in this browser, when the user keeps it included.
    const context = window.promptyardContext?.();
    if (context) {
      body.context = context.text;
      body.context_manifest = context.manifest;
    }
    lastBody = body;
    columns.replaceChildren();
    const views = models.map(column);
    controllers = views.map(() => new AbortController());
    runButton.disabled = true;
    stopButton.disabled = false;
    await Promise.all(views.map((v, i) => runOne(v, body, controllers[i])));
    runButton.disabled = false;
    stopButton.disabled = true;
  });

  stopButton.addEventListener('click', () => {
    for (const c of controllers) c.abort();
  });

  // A template's prompts are read-only until Edit unlocks them; then runs send the edited text
  // (the server renders it with the variables) and "Save as a new version" appears.
  const editButton = document.getElementById('edit-prompts');
  const systemInput = document.getElementById('system_prompt');
  const userInput = document.getElementById('user_prompt');
  editButton?.addEventListener('click', () => {
    edited = true;
    systemInput.readOnly = false;
    userInput.readOnly = false;
    document.getElementById('prompt-lock').textContent = 'Editing';
    document.getElementById('edited-hint').hidden = false;
    const save = document.getElementById('save-version');
    if (save) save.hidden = false;
    editButton.remove();
    userInput.focus();
  });

  // Saving a version takes the prompts, tools and schema as the page holds them.
  const saveForm = document.getElementById('save-tools')?.form;
  saveForm?.addEventListener('submit', () => {
    document.getElementById('save-system').value = systemInput.value;
    document.getElementById('save-user').value = userInput.value;
    if (toolsInput) document.getElementById('save-tools').value = toolsInput.value;
    if (schemaInput) document.getElementById('save-schema').value = schemaInput.value;
  });
}

// "Start from" loads the chosen template at once (the Load button stays for no-script use).
const startFrom = document.getElementById('template');
startFrom?.addEventListener('change', () => startFrom.form.submit());
