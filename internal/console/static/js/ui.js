// Dialogs and toasts.

import { esc } from "./util.js";

// toasts keeps every message shown, for tests and debugging.
window.consoleToasts = [];

// toast shows a short message for a few seconds.
export function toast(msg, bad = false) {
  window.consoleToasts.push((bad ? "error: " : "") + msg);
  const box = document.getElementById("toasts");
  const el = document.createElement("div");
  el.className = "toast" + (bad ? " bad" : "");
  el.textContent = msg;
  box.appendChild(el);
  while (box.children.length > 3) box.firstChild.remove();
  setTimeout(() => el.remove(), bad ? 8000 : 4000);
}

// dialog opens the modal dialog with a title and a form body (HTML). When
// the user confirms, onOK gets the form's values; the dialog closes when
// onOK resolves and shows the error when it rejects.
export function dialog(title, bodyHTML, okLabel, onOK) {
  const dlg = document.getElementById("dialog");
  const form = document.getElementById("dialog-form");
  const err = document.getElementById("dialog-error");
  const ok = document.getElementById("dialog-ok");
  document.getElementById("dialog-title").textContent = title;
  document.getElementById("dialog-body").innerHTML = bodyHTML;
  ok.textContent = okLabel;
  err.textContent = "";
  form.onsubmit = async (ev) => {
    if (ev.submitter && ev.submitter.value === "cancel") return;
    ev.preventDefault();
    ok.disabled = true;
    err.textContent = "";
    try {
      await onOK(Object.fromEntries(new FormData(form)));
      dlg.close();
    } catch (e) {
      err.textContent = e.message;
    } finally {
      ok.disabled = false;
    }
  };
  dlg.showModal();
  const first = form.querySelector("#dialog-body input, #dialog-body select");
  if (first) first.focus();
}

// confirmAction asks before an action and reports its outcome.
export function confirmAction(title, text, okLabel, run, done) {
  dialog(title, `<p>${esc(text)}</p>`, okLabel, async () => {
    await run();
    toast(done);
  });
}
