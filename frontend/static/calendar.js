// groupware calendar pages: lays events out in the day columns (top and height from
// their minutes), gives calendars their colours, offers the browser's time zone once,
// and keeps the event form's date fields, repeat details and address suggestions in step.
// Loaded as a file (the Content-Security-Policy forbids inline script and style); the
// pages work without it, as lists.
"use strict";
(() => {
  const HOUR = 48; // pixels an hour takes in the day and week views (style.css agrees)

  for (const element of document.querySelectorAll("[data-color]")) {
    const color = element.getAttribute("data-color");
    if (/^#[0-9a-fA-F]{6}$/.test(color)) element.style.setProperty("--cal", color);
  }
  for (const event of document.querySelectorAll(".day-column .event")) {
    const minute = Number(event.getAttribute("data-minute")) || 0;
    const length = Number(event.getAttribute("data-length")) || 60;
    event.style.top = `${(minute / 60) * HOUR}px`;
    event.style.height = `${Math.max(18, (Math.min(length, 24 * 60 - minute) / 60) * HOUR - 2)}px`;
    event.classList.add("placed");
  }
  // Side by side when they overlap: each event gets a lane among those it overlaps.
  for (const column of document.querySelectorAll(".day-column")) {
    const events = [...column.querySelectorAll(".event.placed")];
    const ends = [];
    for (const event of events) {
      const start = Number(event.getAttribute("data-minute"));
      const end = start + Number(event.getAttribute("data-length"));
      let lane = ends.findIndex((e) => e <= start);
      if (lane < 0) { lane = ends.length; ends.push(end); } else ends[lane] = end;
      event.dataset.lane = String(lane);
    }
    const lanes = Math.max(1, ends.length);
    for (const event of events) {
      const lane = Number(event.dataset.lane);
      event.style.left = `${(lane / lanes) * 100}%`;
      event.style.width = `${100 / lanes}%`;
    }
  }
  const scroller = document.querySelector(".cal-hours");
  if (scroller) scroller.scrollTop = 7 * HOUR;

  // The zone list, and the browser's zone offered once when none is chosen.
  const zones = document.getElementById("zones");
  if (zones && Intl.supportedValuesOf) {
    for (const name of Intl.supportedValuesOf("timeZone")) {
      const option = document.createElement("option");
      option.value = name;
      zones.append(option);
    }
  }
  const zoneForm = document.querySelector(".zone-form[data-zone-chosen='0']");
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zoneForm && browserZone) {
    const field = zoneForm.querySelector("input[name=zone]");
    if (field.value !== browserZone) {
      field.value = browserZone;
      zoneForm.submit();
    }
  }

  // The event form: dates for an all-day event, date and time otherwise.
  const allDay = document.getElementById("all-day");
  if (allDay) {
    const fields = [document.getElementById("start"), document.getElementById("end")];
    allDay.addEventListener("change", () => {
      for (const field of fields) {
        const value = field.value;
        if (allDay.checked) {
          field.type = "date";
          field.value = value.slice(0, 10);
        } else {
          field.type = "datetime-local";
          field.value = value.length === 10 ? `${value}T09:00` : value;
        }
      }
    });
    const start = fields[0];
    let previous = start.value;
    start.addEventListener("change", () => {
      // The end moves with the start, keeping the event's length.
      const before = Date.parse(previous), after = Date.parse(start.value);
      const end = fields[1], ends = Date.parse(end.value);
      if (!isNaN(before) && !isNaN(after) && !isNaN(ends)) {
        const moved = new Date(ends + (after - before));
        const local = new Date(moved.getTime() - moved.getTimezoneOffset() * 60000).toISOString();
        end.value = end.type === "date" ? local.slice(0, 10) : local.slice(0, 16);
      }
      previous = start.value;
    });
  }
  const repeat = document.getElementById("repeat");
  const details = document.getElementById("repeat-details");
  if (repeat && details) {
    const sync = () => { details.hidden = !repeat.value; };
    repeat.addEventListener("change", sync);
    sync();
  }
})();

// The scheduling assistant: the attendees' and rooms' busy blocks on the event's day,
// side by side with the event, and "Next free slot", which moves the event to the first
// time everyone is free. Only times come back from the server, never what people do.
(() => {
  const assistant = document.getElementById("assistant");
  const form = document.getElementById("event-form");
  if (!assistant || !form) return;
  const field = (name) => form.querySelector(`[name=${name}]`);
  const grid = document.getElementById("freebusy-grid");
  const status = document.getElementById("assistant-status");
  const FIRST = 7 * 60, LAST = 20 * 60; // the hours drawn
  const percent = (minute) => `${((Math.min(Math.max(minute, FIRST), LAST) - FIRST) / (LAST - FIRST)) * 100}%`;
  const minutesOf = (value) => {
    const time = value.length > 10 ? value.slice(11, 16) : "00:00";
    return Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
  };
  const query = () => {
    const params = new URLSearchParams();
    params.set("who", field("attendees").value);
    params.set("zone", field("zone").value);
    params.set("uid", assistant.getAttribute("data-uid") || "");
    return params;
  };
  const block = (from, to, kind, label) => {
    const span = document.createElement("span");
    span.className = `fb ${kind}`;
    span.style.left = percent(from);
    span.style.width = `calc(${percent(to)} - ${percent(from)})`;
    span.title = label;
    return span;
  };
  let asked = 0;
  async function refresh() {
    const start = field("start").value;
    if (!start) return;
    const params = query();
    params.set("date", start.slice(0, 10));
    const number = ++asked;
    const answer = await fetch(`${assistant.getAttribute("data-freebusy")}?${params}`, { credentials: "same-origin" });
    if (!answer.ok || number !== asked) return;
    const { rows } = await answer.json();
    const table = document.createElement("div");
    table.className = "fb-rows";
    const from = minutesOf(start), end = field("end").value;
    const to = end.slice(0, 10) === start.slice(0, 10) ? minutesOf(end) : LAST;
    for (const row of rows) {
      const line = document.createElement("div");
      line.className = "fb-row";
      const name = document.createElement("span");
      name.className = "fb-who";
      name.textContent = row.known ? row.who : `${row.who} (not here)`;
      const bar = document.createElement("span");
      bar.className = "fb-bar";
      if (field("start").type !== "date") bar.append(block(from, to, "event", "this event"));
      for (const [a, b, kind] of row.busy) bar.append(block(a, b, kind, kind === "busy" ? "busy" : "tentative"));
      const summary = document.createElement("span");
      summary.className = "sr-only";
      summary.textContent = row.busy.length ? `busy ${row.busy.length} times that day` : "free all day";
      line.append(name, bar, summary);
      table.append(line);
    }
    const scale = document.createElement("div");
    scale.className = "fb-row fb-scale";
    scale.innerHTML = '<span class="fb-who"></span><span class="fb-bar"><span>07:00</span><span>13:30</span><span>20:00</span></span>';
    table.append(scale);
    grid.replaceChildren(table);
  }
  let timer = null;
  const later = () => { clearTimeout(timer); timer = setTimeout(refresh, 300); };
  for (const name of ["attendees", "start", "end", "zone"]) field(name).addEventListener("change", later);
  field("attendees").addEventListener("input", later);
  document.getElementById("next-free").addEventListener("click", async () => {
    const start = field("start").value, end = field("end").value;
    const minutes = Math.max(15, Math.round((Date.parse(end) - Date.parse(start)) / 60000) || 60);
    const params = query();
    params.set("after", start.length > 10 ? start : `${start}T08:00`);
    params.set("minutes", String(minutes));
    status.textContent = "Looking…";
    const answer = await fetch(`${assistant.getAttribute("data-nextfree")}?${params}`, { credentials: "same-origin" });
    const found = answer.ok ? await answer.json() : {};
    if (!found.start) { status.textContent = "No free time in the next two weeks."; return; }
    field("start").value = found.start;
    field("end").value = found.end;
    status.textContent = `Everyone is free from ${found.start.replace("T", " ")}.`;
    refresh();
  });
  const addRoom = document.getElementById("add-room");
  if (addRoom) addRoom.addEventListener("click", () => {
    const room = document.getElementById("room").value;
    const present = field("attendees").value.split(/[,;]+/).map((part) => part.trim()).filter(Boolean);
    if (!present.includes(room)) field("attendees").value = [...present, room].join(", ");
    refresh();
  });
  refresh();
})();
