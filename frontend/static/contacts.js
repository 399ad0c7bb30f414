// groupware contacts: search as you type. Each pause in typing fetches the list part of
// the page for what is typed and puts it in place (the latest answer wins); the URL
// follows, so a reload or a shared link shows the same. Without script, the form submits.
"use strict";
(() => {
  const box = document.getElementById("contact-q");
  if (!box) return;
  let asked = 0;
  let timer = null;
  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const number = ++asked;
      const url = new URL(box.getAttribute("data-live"), location.href);
      url.searchParams.set("q", box.value);
      const answer = await fetch(url, { credentials: "same-origin" });
      if (!answer.ok || number !== asked) return;
      const holder = document.createElement("div");
      holder.innerHTML = await answer.text();
      const fresh = holder.querySelector("#contact-list");
      const list = document.getElementById("contact-list");
      if (fresh && list) list.replaceWith(fresh);
      const shown = new URL(location.href);
      if (box.value) shown.searchParams.set("q", box.value); else shown.searchParams.delete("q");
      history.replaceState(null, "", shown);
    }, 120);
  });
})();
