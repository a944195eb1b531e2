// The template editor: live preview and variable detection as you type, and adding,
// declaring and removing variable rows. The page works without this script; it only makes
// the feedback immediate. Nothing here talks to anything but this server's /preview.

const form = document.getElementById('editor');

if (form) {
  const rows = document.getElementById('var-rows');
  const rowTemplate = document.getElementById('var-row-template');
  const undeclared = document.getElementById('undeclared');
  const previewSystem = document.getElementById('preview-system');
  const previewUser = document.getElementById('preview-user');

  const addRow = (name) => {
    const row = rowTemplate.content.firstElementChild.cloneNode(true);
    if (name) {
      row.querySelector('[name="var_name"]').value = name;
      row.querySelector('[name="var_required"]').value = 'yes';
    }
    // Keep one blank row last: fill the last blank one if there is one.
    const blank = [...rows.querySelectorAll('[name="var_name"]')].find((i) => !i.value);
    if (name && blank) {
      blank.value = name;
      blank.closest('.var-row').querySelector('[name="var_required"]').value = 'yes';
      rows.appendChild(rowTemplate.content.firstElementChild.cloneNode(true));
    } else {
      rows.appendChild(row);
    }
    schedule();
  };

  const showUndeclared = (names) => {
    undeclared.replaceChildren();
    if (!names.length) return;
    undeclared.append('Used but not declared: ');
    for (const name of names) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'button small';
      button.dataset.declare = name;
      button.textContent = `Declare ${name}`;
      undeclared.append(button, ' ');
    }
  };

  let timer = null;
  let inFlight = null;
  const refresh = async () => {
    if (inFlight) inFlight.abort();
    inFlight = new AbortController();
    const body = new URLSearchParams(new FormData(form));
    try {
      const response = await fetch(form.dataset.preview, {
        method: 'POST',
        body,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        signal: inFlight.signal,
      });
      if (!response.ok) return;
      const data = await response.json();
      previewSystem.textContent = data.system_prompt;
      previewUser.textContent = data.user_prompt;
      showUndeclared(data.undeclared);
    } catch (err) {
      if (err.name !== 'AbortError') console.warn('preview failed', err);
    }
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  };

  // Choices belong to the Choice type only: shown for it (or when some are already written).
  const showChoices = (row) => {
    const kind = row.querySelector('[name="var_type"]').value;
    const choices = row.querySelector('[name="var_choices"]');
    row.querySelector('.var-choices').hidden = kind !== 'enum' && !choices.value.trim();
  };
  const observer = new MutationObserver(() => rows.querySelectorAll('.var-row').forEach(showChoices));
  observer.observe(rows, { childList: true });
  rows.querySelectorAll('.var-row').forEach(showChoices);

  form.addEventListener('input', schedule);
  form.addEventListener('change', (event) => {
    const row = event.target.closest('.var-row');
    if (row) showChoices(row);
    schedule();
  });
  form.addEventListener('click', (event) => {
    const target = event.target.closest('button');
    if (!target) return;
    if (target.dataset.declare !== undefined) {
      addRow(target.dataset.declare);
    } else if (target.hasAttribute('data-remove-row')) {
      target.closest('.var-row').remove();
      schedule();
    } else if (target.id === 'add-var') {
      addRow('');
    }
  });
}
