// Dragging cards on the sprint board and the backlog (SortableJS). A drop is sent as the
// same form POST as the cards' own controls; then the page's content is read again from the
// server, so points, counts and the controls' neighbours are the server's, and a refused
// move (its message shown in #flash) puts the card back where it is.
(function () {
  "use strict";
  var sortables = [];
  var refreshes = 0;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
    } catch (ignored) {
      return "";
    }
  }

  function say(message) {
    if (window.plandeck) window.plandeck.showMessage(String(message));
  }

  function card(element, step) {
    var next = element[step];
    while (next && !next.classList.contains("card")) next = next[step];
    return next;
  }

  function setBusy(busy) {
    sortables.forEach(function (sortable) { sortable.option("disabled", busy); });
  }

  function refresh() {
    var request = { headers: { Accept: "text/html" }, credentials: "same-origin", cache: "no-store" };
    return fetch(location.href, request)
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        var main = document.getElementById("main");
        if (!fresh || !main) throw new Error("no content");
        main.innerHTML = fresh.innerHTML;
        // How many times the content was read again (the browser tests wait on it).
        main.dataset.refreshes = String(++refreshes);
      })
      .catch(function () { location.reload(); })
      .then(start);
  }

  function send(event) {
    var item = event.item;
    var list = event.to;
    if (event.from === list && event.oldIndex === event.newIndex) return;
    var root = list.closest("[data-board]");
    root.setAttribute("aria-busy", "true"); // until the server's copy replaces the lists
    var body = new URLSearchParams();
    body.set("story", item.dataset.key);
    if (list.dataset.status) body.set("status", list.dataset.status);
    if (list.dataset.sprint) body.set("sprint", list.dataset.sprint);
    var previous = card(item, "previousElementSibling");
    var following = card(item, "nextElementSibling");
    if (previous) body.set("after", previous.dataset.key);
    else if (following) body.set("before", following.dataset.key);
    setBusy(true);
    fetch(root.dataset.moveUrl, {
      method: "POST",
      headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
      body: body,
      credentials: "same-origin"
    })
      .then(function (response) {
        if (response.ok) {
          var flash = document.getElementById("flash");
          if (flash) flash.hidden = true;
          return null;
        }
        return response.json().then(
          function (problem) { say(problem.detail || problem.title || response.status); },
          function () { say(response.status + " " + response.statusText); }
        );
      }, function () {
        say(document.documentElement.lang === "fa" ? "اتصال به سرور برقرار نشد." : "The server could not be reached.");
      })
      .then(refresh);
  }

  function start() {
    sortables = [];
    var root = document.querySelector("[data-board][data-can-move]");
    if (!root || !window.Sortable) return;
    root.querySelectorAll("[data-list]").forEach(function (list) {
      sortables.push(window.Sortable.create(list, {
        group: "stories",
        draggable: ".card",
        filter: ".card-actions",
        preventOnFilter: false,
        forceFallback: true,
        fallbackTolerance: 3,
        animation: 150,
        ghostClass: "card-ghost",
        chosenClass: "card-chosen",
        onEnd: send
      }));
    });
    root.classList.add("board-draggable");
  }

  start();
})();
