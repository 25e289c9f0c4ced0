// The composer shows one optional text per network the post targets. The textareas of
// networks not ticked are hidden and disabled, so they are neither sent on save nor
// measured by the live check. Without JavaScript every textarea stays visible.
(function () {
  function sync(form) {
    var ticked = {};
    form.querySelectorAll('input[name="targets"]').forEach(function (box) {
      if (box.checked) { ticked[box.getAttribute("data-network")] = true; }
    });
    form.querySelectorAll("[data-variant-network]").forEach(function (block) {
      var on = !!ticked[block.getAttribute("data-variant-network")];
      block.hidden = !on;
      block.querySelectorAll("textarea").forEach(function (area) { area.disabled = !on; });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.composer").forEach(function (form) {
      sync(form);
      form.addEventListener("change", function (event) {
        if (event.target.name === "targets") { sync(form); }
      });
    });
  });
})();

// The media picker. Without JavaScript, ticked files are ordered by the position typed
// beside each. With it, ticked files move to the top in their order, up/down buttons
// reorder them (positions are renumbered to match), and a file can be uploaded into the
// library from here (htmx swaps the picker, with the new file ticked, in place).
(function () {
  function items(list) {
    return Array.prototype.slice.call(list.querySelectorAll("[data-media-choice]"));
  }
  function box(item) { return item.querySelector('input[type="checkbox"]'); }
  function chosen(list) { return items(list).filter(function (item) { return box(item).checked; }); }

  function renumber(list) {
    var ticked = chosen(list);
    items(list).forEach(function (item) {
      var on = box(item).checked;
      var index = ticked.indexOf(item);
      item.classList.toggle("is-chosen", on);
      item.querySelector('input[type="number"]').value = on ? String(index + 1) : "";
      item.querySelectorAll("[data-move]").forEach(function (button) {
        button.hidden = !on;
        var up = button.getAttribute("data-move") === "up";
        button.disabled = up ? index === 0 : index === ticked.length - 1;
      });
    });
  }

  // A ticked file joins the end of the chosen ones; an unticked one leads the others.
  function place(list, item) {
    var others = chosen(list).filter(function (other) { return other !== item; });
    var anchor = others.length ? others[others.length - 1].nextElementSibling : list.firstElementChild;
    if (anchor !== item) { list.insertBefore(item, anchor); }
  }

  // Ticked files sorted by the positions typed (blank ones last, ties as shown).
  function sortByPositions(list) {
    var ticked = chosen(list).map(function (item, shown) {
      var typed = parseInt(item.querySelector('input[type="number"]').value, 10);
      return { item: item, key: isNaN(typed) || typed < 1 ? Infinity : typed, shown: shown };
    });
    ticked.sort(function (a, b) { return (a.key - b.key) || (a.shown - b.shown); });
    var rest = items(list).filter(function (item) { return !box(item).checked; });
    ticked.forEach(function (entry) { list.appendChild(entry.item); });
    rest.forEach(function (item) { list.appendChild(item); });
  }

  function recheck(picker) {
    var form = picker.closest("form");
    if (form) { form.dispatchEvent(new Event("change", { bubbles: true })); }
  }

  function announce(list, item) {
    var status = document.getElementById("media-order-status");
    var template = list.getAttribute("data-moved");
    if (status && template) {
      status.textContent = template.replace("{n}", String(chosen(list).indexOf(item) + 1));
    }
  }

  // Each picker once: the one in the page, then each one an upload swaps in (which also
  // re-runs the live check, since the choice changed). The live check's own answers
  // only replace the problems inside it, so they never start another check.
  function init(picker) {
    if (!picker || picker.hasAttribute("data-ready")) { return false; }
    picker.setAttribute("data-ready", "");
    picker.querySelectorAll("[data-upload]").forEach(function (block) { block.hidden = false; });
    var list = picker.querySelector(".media-choices");
    if (list) { renumber(list); }
    return true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".media-picker").forEach(init);
  });
  document.addEventListener("htmx:afterSettle", function () {
    var picker = document.getElementById("media-picker");
    if (init(picker)) { recheck(picker); }
  });

  document.addEventListener("change", function (event) {
    var list = event.target.closest && event.target.closest(".media-choices");
    if (!list) { return; }
    if (event.target.type === "checkbox") {
      var item = event.target.closest("[data-media-choice]");
      place(list, item);
      event.target.focus();
    } else if (event.target.type === "number") {
      sortByPositions(list);
      event.target.focus();
    }
    renumber(list);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-move]");
    if (!button) { return; }
    var list = button.closest(".media-choices");
    var item = button.closest("[data-media-choice]");
    if (button.getAttribute("data-move") === "up" && item.previousElementSibling) {
      list.insertBefore(item, item.previousElementSibling);
    } else if (button.getAttribute("data-move") === "down" && item.nextElementSibling &&
               box(item.nextElementSibling).checked) {
      list.insertBefore(item.nextElementSibling, item);
    }
    renumber(list);
    if (button.disabled) {  // at an end now: keep the focus on the other button
      button = item.querySelector('[data-move]:not([data-move="' + button.getAttribute("data-move") + '"])');
    }
    button.focus();
    announce(list, item);
    recheck(list.closest(".media-picker"));
  });

  // The upload: refuse an oversized file before sending it, and show the server's
  // refusal (4xx, aimed at the upload message by HX-Retarget) instead of dropping it.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var picker = event.detail.elt.closest && event.detail.elt.closest(".media-picker");
    var input = picker && event.detail.elt.tagName === "BUTTON" && picker.querySelector('input[type="file"]');
    if (!input || !input.files || !input.files.length) { return; }
    var max = parseInt(input.getAttribute("data-max-bytes"), 10);
    if (max && input.files[0].size > max) {
      event.preventDefault();
      document.getElementById("media-upload-status").textContent = input.getAttribute("data-too-large");
    }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.status < 500 &&
        xhr.getResponseHeader("HX-Retarget") === "#media-upload-status") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
