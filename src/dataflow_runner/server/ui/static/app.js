// Dataflow Runner's web UI: the little that htmx does not do. A log page shows
// its end; a followed one reads the API's Server-Sent Events and appends each
// line, staying at the bottom unless the reader scrolled up.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const log = document.getElementById("log");
  if (!log) return;
  const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 24;
  log.scrollTop = log.scrollHeight;
  if (!log.dataset.follow) return;
  const state = document.getElementById("follow-state");
  const source = new EventSource(log.dataset.follow);
  source.onopen = () => { state.textContent = "live"; };
  source.onmessage = (event) => {
    const stick = atBottom();
    log.append(event.data + "\n");
    if (stick) log.scrollTop = log.scrollHeight;
  };
  source.addEventListener("end", () => {
    source.close();
    state.textContent = "the attempt ended";
    log.dataset.ended = "true";
  });
  source.onerror = () => {
    // Reconnecting would send the log again from its start: stop here.
    if (log.dataset.ended) return;
    source.close();
    state.textContent = "stopped (connection lost): reload to follow again";
  };
});
