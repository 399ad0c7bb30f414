// Webmail behaviour: live updates, keyboard shortcuts, files dropped on Compose.
// Loaded as a file on the mail pages (the Content-Security-Policy forbids inline script).
"use strict";

// ---- Live updates: server-sent events say that the user's mail changed; the page
// fetches what it shows again and swaps in its [data-live-part] elements. A hidden tab
// closes its stream (a browser allows few connections per server) and catches up when
// it is shown again.
(() => {
  const first = document.querySelector("[data-live]");
  if (!first || !window.EventSource) return;
  const stream = first.dataset.live; // the same for every mail page
  let source = null;
  let timer = null;

  const refresh = async () => {
    const root = document.querySelector("[data-live]"); // a moved-to page brings its own
    if (!root) return;
    let answer;
    try {
      answer = await fetch(root.dataset.liveFrom, { credentials: "same-origin" });
    } catch (error) {
      return; // offline for a moment: the next event or visit tries again
    }
    if (!answer.ok || answer.redirected) return; // logged out: leave the page as it is
    const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
    const checked = new Set(
      [...document.querySelectorAll("input[name=uid]:checked")].map((box) => box.value));
    const current = document.querySelector("ul.messages li.current input[name=uid]");
    for (const part of document.querySelectorAll("[data-live-part]")) {
      const name = part.dataset.livePart;
      const replacement = fresh.querySelector(`[data-live-part="${name}"]`);
      if (replacement) part.replaceWith(document.importNode(replacement, true));
    }
    for (const box of document.querySelectorAll("input[name=uid]")) {
      box.checked = checked.has(box.value);
      if (current && box.value === current.value) box.closest("li").classList.add("current");
    }
    document.dispatchEvent(new CustomEvent("mail:refreshed"));
  };
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 200); // a burst of changes is one fetch
  };
  let opened = false;
  const open = () => {
    if (source) return;
    source = new EventSource(stream);
    source.addEventListener("mail", changed);
    source.addEventListener("ended", close); // the session ended: no reconnecting
    // A stream (re)opened may have missed what changed while none was open.
    source.addEventListener("open", () => {
      if (opened) changed();
      opened = true;
    });
  };
  const close = () => {
    if (source) source.close();
    source = null;
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      close();
    } else {
      open();
      changed();
    }
  });
  if (document.visibilityState !== "hidden") open();
})();

// ---- Moving between mail pages (a folder's windows, its sorts, its messages)
// fetches the next page and swaps in its <main>, as Roundcube and Gmail do, instead of
// loading a whole document: no stylesheet, script or event stream is set up again, and
// the address, title and history are kept as a navigation would. Anything unexpected
// (an error page, a login form, another kind of page) is loaded the usual way.
(() => {
  if (!document.querySelector("[data-live]") || !window.history.pushState) return;
  const mailPage = /^\/mail\/(folder|message)\//;
  const movable = (link) =>
    link && link.origin === location.origin && mailPage.test(link.pathname) &&
    !link.target && !link.hasAttribute("download");
  let latest = 0; // only the last of overlapping moves is shown

  const move = async (url, push) => {
    const mine = ++latest;
    let fresh = null;
    try {
      const answer = await fetch(url, { credentials: "same-origin" });
      const type = answer.headers.get("Content-Type") || "";
      if (answer.ok && !answer.redirected && type.startsWith("text/html")) {
        fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
      }
    } catch (error) {
      fresh = null;
    }
    if (mine !== latest) return;
    const main = fresh && fresh.querySelector("main");
    if (!main || !main.querySelector("[data-live]")) {
      location.assign(url);
      return;
    }
    document.querySelector("main").replaceWith(document.importNode(main, true));
    document.title = fresh.title;
    if (push) history.pushState({ mail: true }, "", url);
    window.scrollTo(0, 0);
    const heading = document.querySelector("main h1");
    if (heading) { // where a screen reader would start on a new page
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
    performance.mark("mail:moved"); // when the page was swapped in (bench/webmail.py reads it)
    document.dispatchEvent(new CustomEvent("mail:moved"));
  };

  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest && event.target.closest("a[href]");
    if (!movable(link)) return;
    event.preventDefault();
    move(link.href, true);
  });
  history.replaceState({ mail: true }, "");
  window.addEventListener("popstate", (event) => {
    if (event.state && event.state.mail && mailPage.test(location.pathname)) {
      move(location.href, false);
    }
  });
})();

// ---- Keyboard: j/k move through the list (or to the next and previous message),
// o or Enter opens, r reply, a reply all, f forward, c compose, e archive, # delete,
// u back to the folder, / search, ? this list.
(() => {
  const help = () => document.getElementById("shortcuts"); // inside what moving swaps
  const rows = () => [...document.querySelectorAll("ul.messages > li:not(.empty)")];
  const current = () => document.querySelector("ul.messages > li.current");
  const click = (selector) => {
    const target = document.querySelector(selector);
    if (target) target.click();
    return Boolean(target);
  };
  const move = (step) => {
    const all = rows();
    if (!all.length) {
      click(step > 0 ? "a[rel=next]" : "a[rel=prev]");
      return;
    }
    const index = all.indexOf(current());
    const next = all[Math.max(0, Math.min(all.length - 1, index < 0 ? 0 : index + step))];
    all.forEach((row) => row.classList.toggle("current", row === next));
    next.querySelector("a").focus();
  };
  const act = (action) => {
    const row = current();
    const form = document.getElementById("selection");
    if (form && row && !form.querySelector("input[name=uid]:checked")) {
      row.querySelector("input[name=uid]").checked = true;
    }
    click(`button[name=action][value=${action}]`);
  };
  const keys = {
    j: () => move(1),
    k: () => move(-1),
    o: () => { const row = current(); if (row) row.querySelector("a").click(); },
    Enter: () => { const row = current(); if (row) row.querySelector("a").click(); },
    r: () => click("a[data-key=reply]"),
    a: () => click("a[data-key=reply-all]"),
    f: () => click("a[data-key=forward]"),
    c: () => click("a.compose-link"),
    e: () => act("archive"),
    "#": () => act("delete"),
    u: () => click("a[data-key=folder]"),
    "/": () => { const box = document.querySelector("input[type=search]"); if (box) box.focus(); },
    "?": () => { const dialog = help(); if (dialog && !dialog.open) dialog.showModal(); },
  };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    const typing = event.target.closest("input, textarea, select, [contenteditable]");
    const dialog = help();
    if (typing || (dialog && dialog.open)) return;
    if (event.key === "Enter" && event.target.closest("a, button")) return; // as usual
    const handler = keys[event.key];
    if (!handler) return;
    event.preventDefault();
    handler();
  });
  document.addEventListener("focusin", (event) => {
    const row = event.target.closest && event.target.closest("ul.messages > li");
    if (row) rows().forEach((other) => other.classList.toggle("current", other === row));
  });
})();

// ---- Files dropped anywhere on the Compose form join those chosen with Attach.
(() => {
  const form = document.querySelector("form.composer");
  const input = form && form.querySelector("input[type=file]");
  if (!input || !window.DataTransfer) return;
  form.addEventListener("dragover", (event) => {
    if ([...event.dataTransfer.types].includes("Files")) {
      event.preventDefault();
      form.classList.add("dropping");
    }
  });
  form.addEventListener("dragleave", () => form.classList.remove("dropping"));
  form.addEventListener("drop", (event) => {
    if (!event.dataTransfer.files.length) return;
    event.preventDefault();
    form.classList.remove("dropping");
    const files = new DataTransfer();
    for (const file of [...input.files, ...event.dataTransfer.files]) files.items.add(file);
    input.files = files.files;
  });
})();

// ---- Compose: drafts kept as one types, the signature that goes with the From chosen,
// and the browser's time zone for "Send later".
(() => {
  const form = document.querySelector("form.composer");
  if (!form) return;
  const offset = form.querySelector("input[name=tz_offset]");
  if (offset) offset.value = String(new Date().getTimezoneOffset());

  const sender = form.querySelector("select[name=sender]");
  const body = form.querySelector("textarea[name=body]");
  if (sender && body && sender.dataset.signatures) {
    const signatures = JSON.parse(sender.dataset.signatures);
    let previous = sender.value;
    sender.addEventListener("change", () => {
      const separator = "\n\n-- \n";
      const old = signatures[previous] ? separator + signatures[previous] : "";
      const fresh = signatures[sender.value] ? separator + signatures[sender.value] : "";
      if (old && body.value.includes(old)) {
        body.value = body.value.replace(old, fresh);
      } else if (fresh && !body.value.includes(fresh)) {
        body.value = fresh + body.value;
      }
      previous = sender.value;
    });
  }

  const url = form.dataset.autosave;
  const status = form.querySelector(".autosaved");
  const uid = form.querySelector("input[name=draft_uid]");
  if (!url || !uid) return;
  let dirty = false;
  let pending = null; // the save in flight
  let leaving = false;
  form.addEventListener("input", (event) => {
    if (event.target.type !== "file") dirty = true;
  });
  const save = () => {
    if (!dirty || pending || leaving) return;
    dirty = false;
    pending = store().finally(() => { pending = null; });
  };
  const store = async () => {
    const data = new FormData(form);
    data.delete("attach"); // files go with Send or Save draft, not every few seconds
    try {
      const answer = await fetch(url, { method: "POST", body: data, credentials: "same-origin" });
      const reply = await answer.json();
      if (answer.ok && reply.draft) {
        uid.value = String(reply.draft);
        if (status) status.textContent = "Draft saved.";
      } else if (status) {
        status.textContent = reply.error || "The draft could not be saved.";
      }
    } catch (error) {
      dirty = true; // offline for a moment: the next round tries again
    }
  };
  setInterval(save, 5000);
  // Sending or saving waits for a save in flight, so that it replaces that draft
  // rather than leave it behind in Drafts.
  form.addEventListener("submit", (event) => {
    leaving = true;
    if (!pending) return;
    event.preventDefault();
    const submitter = event.submitter;
    pending.then(() => form.requestSubmit(submitter));
  });
})();

// ---- Undo after Send: offered while the message waits (the server says for how long).
(() => {
  const undo = document.querySelector("form.undo[data-seconds]");
  if (undo) setTimeout(() => undo.remove(), Number(undo.dataset.seconds) * 1000);
})();
