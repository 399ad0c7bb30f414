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
