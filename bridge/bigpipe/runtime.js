/* BigPipe runtime of gzmq-bridge, served at /_bridge/bigpipe.js (bridge/bigpipe/runtime.js).
 *
 * The bridge writes, in order: BigPipe.start({mode, pagelets}) in the skeleton's head, one
 * BigPipe.arrive({id, status, html, css, js}) per pagelet as it completes, maybe one
 * BigPipe.fail({id, status, html}) when a required pagelet failed, and BigPipe.done().
 *
 * arrive: load the pagelet's CSS first (each URL once; a stylesheet that neither loads nor fails
 * within 5 s is not waited for), then set the placeholder <div data-pagelet="ID"> to its HTML and
 * data-pagelet-status to its status. Arrival mode shows each pagelet as soon as its CSS is in;
 * declared mode shows them in the order they were sent. JavaScript waits until every pagelet
 * is shown (as in Facebook's BigPipe): then each JS URL is loaded once, in first-seen order.
 * fail: the body is replaced by <div data-bigpipe-error="ID">error HTML</div>.
 *
 * <html data-bigpipe> is "loading", then "done" (all shown, all JS run) or "failed". Events on
 * document: "bigpipe:pagelet" (detail {id, status}), "bigpipe:done", "bigpipe:failed".
 * No dependencies; ES5 plus Promise.
 */
(function (window, document) {
  "use strict";
  if (window.BigPipe) { return; }

  var CSS_WAIT_MS = 5000;
  var root = document.documentElement;
  var mode = "arrival";
  var pending = 0;           // pagelets arrived but not shown yet
  var finished = false;      // done() was called
  var failed = false;
  var order = Promise.resolve();   // declared mode: shows happen along this chain
  var styles = {};           // absolute URL -> Promise (resolved once loaded or given up)
  var scripts = [];          // absolute URLs, first-seen order

  function absolute(url) {
    var a = document.createElement("a");
    a.href = url;
    return a.href;
  }

  function fire(name, detail) {
    var event;
    try {
      event = new CustomEvent(name, {detail: detail});
    } catch (e) {
      event = document.createEvent("CustomEvent");
      event.initCustomEvent(name, false, false, detail);
    }
    document.dispatchEvent(event);
  }

  function placeholder(id) {
    var all = document.querySelectorAll("[data-pagelet]");
    for (var i = 0; i < all.length; i++) {
      if (all[i].getAttribute("data-pagelet") === id) { return all[i]; }
    }
    return null;
  }

  function present(selector, attribute, url) {
    var all = document.querySelectorAll(selector);
    for (var i = 0; i < all.length; i++) {
      var value = all[i].getAttribute(attribute);
      if (value && absolute(value) === url) { return true; }
    }
    return false;
  }

  function loadStyle(url) {
    var key = absolute(url);
    if (!styles[key]) {
      styles[key] = new Promise(function (resolve) {
        if (present('link[rel~="stylesheet"]', "href", key)) { resolve(); return; }
        var link = document.createElement("link");
        var timer = setTimeout(resolve, CSS_WAIT_MS);
        link.rel = "stylesheet";
        link.onload = link.onerror = function () { clearTimeout(timer); resolve(); };
        link.href = url;
        document.head.appendChild(link);
      });
    }
    return styles[key];
  }

  function loadScript(url) {
    return new Promise(function (resolve) {
      if (present("script[src]", "src", url)) { resolve(); return; }
      var script = document.createElement("script");
      script.async = false;
      script.onload = script.onerror = function () { resolve(); };
      script.src = url;
      document.head.appendChild(script);
    });
  }

  function show(pagelet) {
    pending -= 1;
    if (failed) { return; }
    var element = placeholder(pagelet.id);
    if (element) {
      element.innerHTML = pagelet.html;
      element.setAttribute("data-pagelet-status", pagelet.status);
    }
    (pagelet.js || []).forEach(function (url) {
      var key = absolute(url);
      if (scripts.indexOf(key) < 0) { scripts.push(key); }
    });
    fire("bigpipe:pagelet", {id: pagelet.id, status: pagelet.status});
    settle();
  }

  function settle() {
    if (!finished || pending || failed) { return; }
    finished = false;                            // run the scripts once
    scripts.reduce(function (previous, url) {
      return previous.then(function () { return loadScript(url); });
    }, Promise.resolve()).then(function () {
      if (failed) { return; }
      root.setAttribute("data-bigpipe", "done");
      fire("bigpipe:done", {});
    });
  }

  window.BigPipe = {
    start: function (options) {
      mode = (options && options.mode) || "arrival";
      root.setAttribute("data-bigpipe", "loading");
    },
    arrive: function (pagelet) {
      pending += 1;
      var styled = Promise.all((pagelet.css || []).map(loadStyle));
      if (mode === "declared") {
        order = order.then(function () { return styled; });
      }
      (mode === "declared" ? order : styled).then(function () { show(pagelet); });
    },
    fail: function (info) {
      failed = true;
      var box = document.createElement("div");
      box.setAttribute("data-bigpipe-error", info.id);
      box.innerHTML = info.html;
      document.body.innerHTML = "";
      document.body.appendChild(box);
      root.setAttribute("data-bigpipe", "failed");
      fire("bigpipe:failed", {id: info.id, status: info.status});
    },
    done: function () {
      finished = true;
      settle();
    }
  };
})(window, document);
