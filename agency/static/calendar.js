// Content calendar: drag a post onto another day to move it. The date sent is the
// client's own date (the server keeps the post's time of day in the client's timezone),
// shifted by as many days as the post was moved on the calendar shown.
(function () {
  "use strict";

  var DAY_MS = 86400000;

  function toUtcDate(iso) {
    var p = iso.split("-");
    return Date.UTC(+p[0], +p[1] - 1, +p[2]);
  }

  function shiftDate(iso, days) {
    return new Date(toUtcDate(iso) + days * DAY_MS).toISOString().slice(0, 10);
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function init(root) {
    var statusBox = document.getElementById("cal-status");
    var dragged = null;

    function say(message, isError) {
      if (!statusBox) { return; }
      statusBox.textContent = message;
      statusBox.classList.toggle("is-error", !!isError);
    }

    function dayOf(target) {
      return target && target.closest ? target.closest(".cal-day[data-date]") : null;
    }

    function clearTargets() {
      root.querySelectorAll(".is-drop-target").forEach(function (el) {
        el.classList.remove("is-drop-target");
      });
    }

    function refreshEmpty(day) {
      if (day) { day.classList.toggle("is-empty", !day.querySelector(".cal-post")); }
    }

    function place(fresh, old) {
      var oldDay = dayOf(old);
      var list = root.querySelector('.cal-day[data-date="' + fresh.dataset.day + '"] .cal-posts');
      old.remove();
      if (list) {
        // Keep the day's posts in time order.
        var after = null;
        list.querySelectorAll(".cal-post").forEach(function (item) {
          if (!after && item.dataset.sort > fresh.dataset.sort) { after = item; }
        });
        list.insertBefore(fresh, after);
        refreshEmpty(dayOf(list));
      }
      refreshEmpty(oldDay);
    }

    function move(chip, date) {
      var body = new URLSearchParams();
      body.set("date", date);
      body.set("display", root.dataset.display || "client");
      chip.setAttribute("aria-busy", "true");
      fetch(chip.dataset.rescheduleUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true",
                   "Content-Type": "application/x-www-form-urlencoded" },
        body: body.toString()
      }).then(function (response) {
        return response.text().then(function (text) {
          return { ok: response.ok, text: text };
        });
      }).then(function (result) {
        chip.removeAttribute("aria-busy");
        var template = document.createElement("template");
        template.innerHTML = result.text.trim();
        if (!result.ok) {
          say(template.content.textContent.trim() || root.dataset.msgFailed, true);
          return;
        }
        var fresh = template.content.querySelector(".cal-post");
        if (!fresh) { say(root.dataset.msgFailed, true); return; }
        place(fresh, chip);
        say(root.dataset.msgMoved, false);
      }).catch(function () {
        chip.removeAttribute("aria-busy");
        say(root.dataset.msgFailed, true);
      });
    }

    root.addEventListener("dragstart", function (event) {
      var chip = event.target.closest ? event.target.closest('.cal-post[draggable="true"]') : null;
      if (!chip) { return; }
      dragged = chip;
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", chip.dataset.postId);
      chip.classList.add("is-dragging");
    });

    root.addEventListener("dragend", function () {
      if (dragged) { dragged.classList.remove("is-dragging"); }
      dragged = null;
      clearTargets();
    });

    root.addEventListener("dragover", function (event) {
      var day = dayOf(event.target);
      if (!dragged || !day) { return; }
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      if (!day.classList.contains("is-drop-target")) {
        clearTargets();
        day.classList.add("is-drop-target");
      }
    });

    root.addEventListener("dragleave", function (event) {
      var day = dayOf(event.target);
      if (day && !day.contains(event.relatedTarget)) { day.classList.remove("is-drop-target"); }
    });

    root.addEventListener("drop", function (event) {
      var day = dayOf(event.target);
      var chip = dragged;
      if (!chip || !day) { return; }
      event.preventDefault();
      clearTargets();
      var shift = Math.round((toUtcDate(day.dataset.date) - toUtcDate(chip.dataset.day)) / DAY_MS);
      if (shift === 0) { return; }
      if (chip.dataset.confirmMove && !window.confirm(chip.dataset.confirmMove)) { return; }
      move(chip, shiftDate(chip.dataset.clientDay, shift));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-calendar]").forEach(init);
  });
})();
