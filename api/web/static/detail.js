// The staff desk's request page, enhanced; without this script the page
// still works: each thumbnail links to its image, and the print button
// stays hidden (the browser's own print prints the same case sheet).
// 1. "Print" prints the case sheet (the print stylesheet picks what shows).
// 2. The documents open in Viewer.js (vendored): zoom, rotate, next and
//    previous, with the toolbar's buttons named in the page's language.
(function () {
  var print = document.getElementById("print-sheet");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }

  var gallery = document.getElementById("documents");
  if (!gallery || typeof window.Viewer !== "function") { return; }
  var actions = { "zoom-in": "zoomIn", "zoom-out": "zoomOut", "one-to-one": "oneToOne", "reset": "reset",
    "prev": "prev", "next": "next", "rotate-left": "rotateLeft", "rotate-right": "rotateRight" };
  var toolbar = {};
  Object.keys(actions).forEach(function (a) { toolbar[actions[a]] = { show: true, size: "large" }; });
  var viewer = new window.Viewer(gallery, {
    toolbar: toolbar,
    navbar: false,
    transition: false,
    title: [1, function (image) { return image.alt; }],
    shown: function () { nameButtons(viewer.viewer); },
    // Zoom and rotate work once the image is in place; tests wait for this.
    viewed: function () { gallery.setAttribute("data-viewed", "yes"); },
    hidden: function () { gallery.removeAttribute("data-viewed"); }
  });

  // Viewer.js draws its buttons without names; screen readers need them.
  function nameButtons(root) {
    if (!root) { return; }
    // The toolbar is a row of buttons, not a list of items.
    var bar = root.querySelector(".viewer-toolbar > ul");
    if (bar) {
      bar.setAttribute("role", "toolbar");
      bar.setAttribute("aria-label", gallery.getAttribute("data-label-toolbar") || "");
    }
    var buttons = root.querySelectorAll("[data-viewer-action]");
    for (var i = 0; i < buttons.length; i++) {
      var b = buttons[i];
      var action = b.getAttribute("data-viewer-action");
      var label = gallery.getAttribute("data-label-" + (action === "mix" ? "close" : action));
      if (label) {
        b.setAttribute("aria-label", label);
        b.setAttribute("title", label);
        b.setAttribute("tabindex", "0");
      }
      if (!b.hasAttribute("data-keys")) { // Enter and Space press a button, as on a real one
        b.setAttribute("data-keys", "");
        b.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); e.stopPropagation(); this.click(); }
        });
      }
    }
  }

  // A click on a thumbnail opens the viewer, not the image's own page;
  // Enter on a focused link does the same.
  var links = gallery.querySelectorAll("a.doc-thumb");
  for (var i = 0; i < links.length; i++) {
    (function (index) {
      links[index].addEventListener("click", function (e) {
        e.preventDefault();
        if (e.target.localName !== "img") { viewer.view(index); } // Viewer.js handles clicks on the image itself
      });
    })(i);
  }
})();
