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
