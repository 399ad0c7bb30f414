// groupware: as one types addresses (a message's To, Cc and Bcc, an event's attendees),
// people from the directory and one's address books are offered: a combobox, arrows
// choose, Enter or a click takes one. Fields opt in with data-suggest (the URL to ask),
// or, in a form carrying data-suggest, by being named to, cc or bcc.
"use strict";
(() => {
  let counter = 0;
  const fields = [...document.querySelectorAll("input[data-suggest]")];
  for (const form of document.querySelectorAll("form[data-suggest]")) {
    for (const name of ["to", "cc", "bcc"]) {
      const input = form.querySelector(`input[name=${name}]`);
      if (input && !input.dataset.suggest) {
        input.dataset.suggest = form.dataset.suggest;
        fields.push(input);
      }
    }
  }
  for (const input of fields) {
    const name = input.name;
    const list = document.createElement("ul");
    list.id = `suggest-${name}-${++counter}`;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    (input.closest("label") || input).after(list); // outside the label: not part of its name
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("autocomplete", "off");
    let timer = null;
    let active = -1;
    const options = () => [...list.querySelectorAll("[role=option]")];
    const close = () => {
      list.hidden = true;
      list.replaceChildren();
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    };
    const current = () => input.value.split(",").pop().trim();
    const take = (text) => {
      const parts = input.value.split(",");
      parts[parts.length - 1] = (parts.length > 1 ? " " : "") + text;
      input.value = parts.join(",") + ", ";
      close();
      input.focus();
      input.dispatchEvent(new Event("input", { bubbles: true }));
    };
    const highlight = (index) => {
      const all = options();
      active = (index + all.length) % all.length;
      all.forEach((option, i) => option.setAttribute("aria-selected", String(i === active)));
      input.setAttribute("aria-activedescendant", all[active].id);
    };
    const lookUp = async () => {
      const typed = current();
      if (typed.length < 2) return close();
      let found = [];
      try {
        const answer = await fetch(`${input.dataset.suggest}?q=${encodeURIComponent(typed)}`,
          { credentials: "same-origin" });
        if (answer.ok) found = (await answer.json()).suggestions;
      } catch (error) {
        return close();
      }
      if (current() !== typed) return; // typed on meanwhile: the next answer counts
      list.replaceChildren();
      found.forEach((text, i) => {
        const option = document.createElement("li");
        option.id = `${list.id}-${i}`;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = text;
        option.addEventListener("mousedown", (event) => {
          event.preventDefault(); // keep the focus in the field
          take(text);
        });
        list.append(option);
      });
      list.hidden = !found.length;
      input.setAttribute("aria-expanded", String(Boolean(found.length)));
      active = -1;
    };
    input.addEventListener("input", (event) => {
      if (event.isTrusted === false && list.hidden) return;
      clearTimeout(timer);
      timer = setTimeout(lookUp, 150);
    });
    input.addEventListener("keydown", (event) => {
      if (list.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        highlight(active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        take(options()[active].textContent);
      } else if (event.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", () => setTimeout(close, 100));
  }
})();
