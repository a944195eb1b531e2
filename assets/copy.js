// Copy buttons: <button data-copy="ID"> copies the value (or text) of the element with that id.
// The Clipboard API needs a secure context (https or localhost); elsewhere the field is selected
// and copied with the older command, and if that fails too it stays selected for Ctrl+C.
const copy = async (button) => {
  const target = document.getElementById(button.dataset.copy);
  if (!target) return;
  const text = "value" in target ? target.value : target.textContent;
  let done = false;
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      done = true;
    } catch {
      done = false;
    }
  }
  if (!done) {
    if ("select" in target) {
      target.select();
    } else {
      const range = document.createRange();
      range.selectNodeContents(target);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    try {
      done = document.execCommand("copy");
    } catch {
      done = false;
    }
  }
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.textContent = done ? "Copied" : "Press Ctrl+C";
  const status = document.getElementById(`${button.dataset.copy}-status`);
  if (status) status.textContent = done ? "Copied to the clipboard." : "Selected: press Ctrl+C to copy.";
  setTimeout(() => {
    button.textContent = label;
  }, 2000);
};

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (button) {
    event.preventDefault();
    copy(button);
  }
});
