/* The feed pagelet's behaviour: loaded by the BigPipe runtime once every pagelet is shown. */
(function () {
  var feed = document.querySelector('[data-pagelet="feed"]');
  feed.setAttribute("data-feed-js", "ready");
  feed.addEventListener("click", function (event) {
    if (event.target.tagName === "BUTTON") { event.target.classList.toggle("liked"); }
  });
})();
