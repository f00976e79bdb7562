/*
 * bridge.js: the browser client for the gzmq bridge's pubsub: routes. No dependencies.
 * Served by the bridge at /_bridge/bridge.js.
 *
 *   <script src="/_bridge/bridge.js"></script>
 *   <script>
 *     var bridge = GzmqBridge.connect("/live");              // the route's PREFIX
 *     var sub = bridge.subscribe("netherlands", function (data, msg) { ... });
 *     sub.ready.then(function () { ... });                    // the bridge has subscribed
 *     sub.unsubscribe();
 *     bridge.publish("chat/lobby", {nick: "ann", text: "hi"}); // -> Promise (ack)
 *     bridge.request("/api/echo", "body").then(function (r) { r.status; r.body; r.json(); });
 *     bridge.on("state", function (state) { ... });            // connecting, open, closed
 *   </script>
 *
 * Transports: "websocket" (default), "sse" (EventSource for messages, POST PREFIX/send for
 * publish and request) and "poll" (long-poll PREFIX/poll, POST PREFIX/send). The default
 * "auto" picks the first the browser has. Every transport reconnects after a failure with
 * exponential back-off (0.5 s doubling to 15 s, with jitter) and re-subscribes every topic
 * that still has callbacks; publishes and requests made while disconnected wait (at most
 * `queueLimit` of them) and go out on reconnection; a request fails after `timeout` ms, or at
 * once if the WebSocket it went out on is lost.
 *
 * `data` given to publish: a string is sent as its UTF-8 bytes, anything else as JSON. A
 * message's `data` arrives as the backend's text (base64 with msg.data_base64 when it was not
 * UTF-8). The protocol is in bridge/adapters/ops.py.
 *
 * GzmqBridge.zmq(path, type) is the other way in, for zws: routes: the page is a ZeroMQ peer of
 * the backend itself (ZWS 2.0), see the section "ZeroMQ over WebSocket" below.
 */
(function (root) {
  "use strict";

  var MIN_DELAY = 500, MAX_DELAY = 15000;

  // The route's URL for a scheme family ("ws" or "http"), from a path or a full URL.
  function absolute(prefix, scheme) {
    if (/^(wss?|https?):/.test(prefix)) {
      return scheme === "ws" ? prefix.replace(/^http/, "ws") : prefix.replace(/^ws/, "http");
    }
    var loc = root.location, secure = loc.protocol === "https:";
    var base = scheme === "ws" ? (secure ? "wss://" : "ws://") : (secure ? "https://" : "http://");
    return base + loc.host + (prefix.charAt(0) === "/" ? prefix : "/" + prefix);
  }

  function stripSlash(url) { return url.replace(/\/+$/, ""); }

  function xhr(method, url, body, timeout, done) {
    var req = new XMLHttpRequest();
    req.open(method, url, true);
    if (timeout) { req.timeout = timeout; }
    if (body !== undefined) { req.setRequestHeader("Content-Type", "application/json"); }
    req.onreadystatechange = function () {
      if (req.readyState === 4) { done(req.status, req.responseText); }
    };
    req.send(body === undefined ? null : body);
    return req;
  }

  function Reply(msg) {
    this.status = msg.status;
    this.body = msg.body;
    this.base64 = !!msg.body_base64;
  }
  Reply.prototype.json = function () { return JSON.parse(this.body); };

  function Bridge(prefix, options) {
    options = options || {};
    this.prefix = prefix;
    this.options = options;
    this.timeout = options.timeout || 30000;
    this.queueLimit = options.queueLimit || 1000;
    this.state = "closed";
    this.transport = pickTransport(options.transport || "auto");
    this._topics = {};          // topic -> [callbacks]
    this._pending = {};         // id -> {resolve, reject, timer}
    this._queue = [];           // ops waiting for a connection
    this._listeners = {};
    this._nextId = 1;
    this._delay = MIN_DELAY;
    this._closed = false;
    this._generation = 0;
    this._lastEventId = null;
    this._session = null;
    this._start();
  }

  function pickTransport(name) {
    if (name === "auto") {
      if (root.WebSocket) { return "websocket"; }
      if (root.EventSource) { return "sse"; }
      return "poll";
    }
    if (["websocket", "sse", "poll"].indexOf(name) < 0) { throw new Error("unknown transport " + name); }
    return name;
  }

  Bridge.prototype.on = function (event, fn) {
    (this._listeners[event] = this._listeners[event] || []).push(fn);
    return this;
  };

  Bridge.prototype._emit = function (event, value) {
    var fns = this._listeners[event] || [];
    for (var i = 0; i < fns.length; i++) {
      try { fns[i](value); } catch (e) { if (root.console) { root.console.error(e); } }
    }
  };

  Bridge.prototype._setState = function (state) {
    if (this.state !== state) { this.state = state; this._emit("state", state); if (state === "open") { this._emit("open"); } }
  };

  // ------------------------------------------------------------------ connecting

  Bridge.prototype._start = function () {
    if (this._closed) { return; }
    this._generation++;
    this._setState("connecting");
    if (this.transport === "websocket") { this._openWebSocket(); }
    else if (this.transport === "sse") { this._openEventSource(); }
    else { this._poll(); }
  };

  Bridge.prototype._lost = function (generation) {
    if (generation !== this._generation || this._closed) { return; }
    this._generation++;
    // Ops already sent over the lost WebSocket will never be answered: fail them now (ops
    // still queued go out after reconnecting; subscriptions are renewed then).
    for (var id in this._pending) {
      if (Object.prototype.hasOwnProperty.call(this._pending, id) && this._pending[id].sent) {
        this._fail(id, "connection lost");
      }
    }
    this._setState("closed");
    this._emit("close");
    var self = this, delay = this._delay * (0.75 + Math.random() * 0.5);
    this._delay = Math.min(this._delay * 2, MAX_DELAY);
    this._retry = setTimeout(function () { self._start(); }, delay);
  };

  Bridge.prototype._opened = function () {
    this._delay = MIN_DELAY;
    this._setState("open");
    var queue = this._queue;
    this._queue = [];
    for (var i = 0; i < queue.length; i++) { this._send(queue[i]); }
  };

  Bridge.prototype._openWebSocket = function () {
    var self = this, generation = this._generation, ws;
    try { ws = new root.WebSocket(absolute(this.prefix, "ws")); }
    catch (e) { this._lost(generation); return; }
    this._ws = ws;
    ws.onopen = function () {
      if (generation !== self._generation) { return; }
      for (var topic in self._topics) {                      // (re)subscribe everything
        if (Object.prototype.hasOwnProperty.call(self._topics, topic)) { self._subscribeOp(topic); }
      }
      self._opened();
    };
    ws.onmessage = function (event) {
      if (generation !== self._generation) { return; }
      var msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      self._dispatch(msg);
    };
    ws.onclose = function (event) {
      self._emit("wsclose", {code: event.code, reason: event.reason});
      self._lost(generation);
    };
    ws.onerror = function () { /* onclose follows */ };
  };

  Bridge.prototype._topicKey = function () { return this._topicQuery().sort().join("&"); };

  Bridge.prototype._topicQuery = function () {
    var parts = [];
    for (var topic in this._topics) {
      if (Object.prototype.hasOwnProperty.call(this._topics, topic)) { parts.push("topic=" + encodeURIComponent(topic)); }
    }
    return parts;
  };

  Bridge.prototype._openEventSource = function () {
    var self = this, generation = this._generation;
    if (this._es) { this._es.close(); }
    var query = this._topicQuery();
    if (this._lastEventId) { query.push("last_event_id=" + encodeURIComponent(this._lastEventId)); }
    var es = new root.EventSource(stripSlash(absolute(this.prefix, "http")) + "/events?" + query.join("&"));
    var sent = this._topicKey();
    this._es = es;
    es.onopen = function () {
      if (generation !== self._generation) { return; }
      self._opened();
      // Topics that changed while connecting need a stream of their own.
      if (sent === self._topicKey()) { self._ackTopics(); } else { self._topicsChanged(); }
    };
    es.onmessage = function (event) {
      if (generation !== self._generation) { return; }
      if (event.lastEventId) { self._lastEventId = event.lastEventId; }
      var msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      self._dispatch(msg);
    };
    es.onerror = function () {
      es.close();                       // our own back-off, not EventSource's fixed retry
      self._lost(generation);
    };
  };

  Bridge.prototype._poll = function () {
    var self = this, generation = this._generation;
    var query = this._topicQuery();
    if (this._session) { query.push("session=" + encodeURIComponent(this._session)); }
    var url = stripSlash(absolute(this.prefix, "http")) + "/poll?" + query.join("&");
    var sent = this._topicKey();
    this._pollRequest = xhr("GET", url, undefined, 0, function (status, text) {
      if (generation !== self._generation) { return; }
      if (status !== 200) { self._session = null; self._lost(generation); return; }
      var doc;
      try { doc = JSON.parse(text); } catch (e) { self._lost(generation); return; }
      self._session = doc.session;
      if (self.state !== "open") { self._opened(); }
      if (sent === self._topicKey()) { self._ackTopics(); }   // else the next poll carries them
      for (var i = 0; i < doc.messages.length; i++) { self._dispatch(doc.messages[i]); }
      self._poll();
    });
  };

  // Topics changed under SSE or long-poll: reopen the stream / restart the poll with them.
  Bridge.prototype._topicsChanged = function () {
    if (this._closed || this.state !== "open") { return; }
    if (this.transport === "sse") { this._generation++; this._openEventSource(); }
    else if (this.transport === "poll") {
      this._generation++;
      if (this._pollRequest) { this._pollRequest.abort(); }
      this._poll();
    }
  };

  Bridge.prototype._ackTopics = function () {
    for (var topic in this._topics) {
      if (Object.prototype.hasOwnProperty.call(this._topics, topic)) {
        var list = this._topics[topic];
        for (var i = 0; i < list.length; i++) { if (list[i].resolve) { list[i].resolve(); list[i].resolve = null; } }
      }
    }
  };

  // ------------------------------------------------------------------ messages in

  Bridge.prototype._dispatch = function (msg) {
    if (msg.op === "message") {
      var list = this._topics[msg.topic] || [];
      for (var i = 0; i < list.length; i++) {
        try { list[i].callback(msg.data, msg); } catch (e) { if (root.console) { root.console.error(e); } }
      }
      this._emit("message", msg);
    } else if (msg.op === "reply" || (msg.op === "error" && msg.id !== undefined && this._pending[msg.id])) {
      var pending = this._pending[msg.id];
      if (!pending) { return; }
      delete this._pending[msg.id];
      clearTimeout(pending.timer);
      if (msg.op === "reply") { pending.resolve(new Reply(msg)); }
      else { pending.reject(new Error(msg.error)); }
    } else if (msg.op === "error") {
      this._emit("error", new Error(msg.error));
    }
  };

  // ------------------------------------------------------------------ ops out

  Bridge.prototype._send = function (op) {
    if (this.state !== "open") {
      if (this._queue.length >= this.queueLimit) { this._fail(op.id, "send queue full"); return; }
      this._queue.push(op);
      return;
    }
    if (this.transport === "websocket") {
      if (op.id !== undefined && this._pending[op.id]) { this._pending[op.id].sent = true; }
      this._ws.send(JSON.stringify(op));
      return;
    }
    var self = this;
    xhr("POST", stripSlash(absolute(this.prefix, "http")) + "/send", JSON.stringify(op), this.timeout,
        function (status, text) {
          if (status === 204) { return; }
          var msg;
          try { msg = JSON.parse(text); } catch (e) { self._fail(op.id, "HTTP " + status); return; }
          self._dispatch(msg);
        });
  };

  Bridge.prototype._fail = function (id, error) {
    var pending = id !== undefined && this._pending[id];
    if (pending) { delete this._pending[id]; clearTimeout(pending.timer); pending.reject(new Error(error)); }
  };

  Bridge.prototype._call = function (op) {
    var self = this, id = this._nextId++;
    op.id = id;
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () { self._fail(id, "timed out after " + self.timeout + " ms"); }, self.timeout);
      self._pending[id] = {resolve: resolve, reject: reject, timer: timer};
      self._send(op);
    });
  };

  // WebSocket only, and only on an open socket: the ack resolves the topic's ready promises.
  Bridge.prototype._subscribeOp = function (topic) {
    var self = this, op = {op: "subscribe", topic: topic, id: this._nextId++};
    this._pending[op.id] = {
      resolve: function () {
        var list = self._topics[topic] || [];
        for (var i = 0; i < list.length; i++) { if (list[i].resolve) { list[i].resolve(); list[i].resolve = null; } }
      },
      reject: function () {}, timer: null
    };
    this._ws.send(JSON.stringify(op));
  };

  Bridge.prototype._wsOpen = function () {
    return this.transport === "websocket" && this._ws && this._ws.readyState === 1 && this.state === "open";
  };

  /** subscribe(topic, callback(data, msg)) -> {topic, ready: Promise, unsubscribe()} */
  Bridge.prototype.subscribe = function (topic, callback) {
    var self = this, entry = {callback: callback, resolve: null};
    var ready = new Promise(function (resolve) { entry.resolve = resolve; });
    var fresh = !this._topics[topic];
    (this._topics[topic] = this._topics[topic] || []).push(entry);
    if (fresh) {
      if (this.transport !== "websocket") { this._topicsChanged(); }
      else if (this._wsOpen()) { this._subscribeOp(topic); }   // else: sent when the socket opens
    } else if (this.state === "open" && !this._awaitingAck(topic)) {
      entry.resolve(); entry.resolve = null;
    }
    return {
      topic: topic,
      ready: ready,
      unsubscribe: function () { self.unsubscribe(topic, callback); }
    };
  };

  Bridge.prototype._awaitingAck = function (topic) {
    var list = this._topics[topic] || [];
    for (var i = 0; i < list.length; i++) { if (list[i].resolve) { return true; } }
    return false;
  };

  /** unsubscribe(topic[, callback]): without a callback, every callback of the topic. */
  Bridge.prototype.unsubscribe = function (topic, callback) {
    var list = this._topics[topic];
    if (!list) { return; }
    var kept = [];
    for (var i = 0; i < list.length; i++) { if (callback && list[i].callback !== callback) { kept.push(list[i]); } }
    if (kept.length) { this._topics[topic] = kept; return; }
    delete this._topics[topic];
    if (this.transport === "websocket") {
      if (this._wsOpen()) { this._ws.send(JSON.stringify({op: "unsubscribe", topic: topic})); }
    } else {
      this._topicsChanged();
    }
  };

  /** publish(topic, data) -> Promise resolved when the bridge has sent it on. */
  Bridge.prototype.publish = function (topic, data) {
    return this._call({op: "publish", topic: topic, data: data});
  };

  /** request(path, body[, {method, headers}]) -> Promise<Reply {status, body, json()}> */
  Bridge.prototype.request = function (path, body, opts) {
    var op = {op: "request", path: path};
    if (body !== undefined) { op.body = body; }
    if (opts && opts.method) { op.method = opts.method; }
    if (opts && opts.headers) { op.headers = opts.headers; }
    return this._call(op);
  };

  Bridge.prototype.close = function () {
    this._closed = true;
    this._generation++;
    clearTimeout(this._retry);
    if (this._ws) { this._ws.close(1000); }
    if (this._es) { this._es.close(); }
    if (this._pollRequest) { this._pollRequest.abort(); }
    this._setState("closed");
  };


  // ------------------------------------------------------------------ ZeroMQ over WebSocket
  //
  // GzmqBridge.zmq(path, type): the page itself is a ZeroMQ peer of a zws: route's backend
  // (ZWS 2.0, RFC 45, with the NULL mechanism; no JSON ops in between). Types: "SUB", "REQ",
  // "DEALER", "PUSH", "PULL", "PAIR". Frames are Uint8Arrays (strings are sent as UTF-8):
  //
  //   var news = GzmqBridge.zmq("/zmq/soccer", "SUB");
  //   news.subscribe("netherlands");
  //   news.on("message", function (frames) { GzmqBridge.text(frames[0]); });
  //   var echo = GzmqBridge.zmq("/zmq/echo", "REQ");
  //   echo.request(["hello"]).then(function (frames) { ... });   // one at a time, in order
  //   news.on("state", function (state) { ... });                 // connecting, open, closed
  //
  // Each ZMTP frame travels as one binary WebSocket message: a flag byte (1 MORE, 2 COMMAND),
  // then the frame. Subprotocol: the bare "ZWS2.0" (browsers take no "/" in a subprotocol, so
  // not ZWS2.0/NULL): each side's first message is its routing id, no READY, no Socket-Type;
  // the page sends what it queued once the peer's has come. It reconnects as the pubsub client does (0.5 s doubling to 15 s),
  // subscribing again; a request in flight when the connection drops fails.
  var ZMTP_MORE = 1, ZMTP_COMMAND = 2;
  var utf8 = typeof TextEncoder !== "undefined" ? new TextEncoder() : null;

  function bytes(value) {
    if (value instanceof Uint8Array) { return value; }
    if (value instanceof ArrayBuffer) { return new Uint8Array(value); }
    return utf8.encode(String(value));
  }

  function concat(parts) {
    var n = 0, i, out, at = 0;
    for (i = 0; i < parts.length; i++) { n += parts[i].length; }
    out = new Uint8Array(n);
    for (i = 0; i < parts.length; i++) { out.set(parts[i], at); at += parts[i].length; }
    return out;
  }

  function ZmqSocket(path, type, options) {
    this.url = absolute(path, "ws");
    this.type = type;
    this.options = options || {};
    this._handlers = {};
    this._topics = [];
    this._queue = [];           // messages waiting for the peer's READY
    this._frames = [];          // a message being received
    this._requests = [];        // REQ: [{frames, resolve, reject}], the first one in flight
    this._delay = MIN_DELAY;
    this._closed = false;
    this._open();
  }

  ZmqSocket.prototype.on = function (event, fn) {
    (this._handlers[event] = this._handlers[event] || []).push(fn);
    return this;
  };

  ZmqSocket.prototype._emit = function (event, value) {
    (this._handlers[event] || []).forEach(function (fn) { fn(value); });
  };

  ZmqSocket.prototype._open = function () {
    var self = this, ws;
    this.state = "connecting";
    this._emit("state", this.state);
    this._ready = false;
    // Browsers accept only tokens as subprotocols ("ZWS2.0/NULL" has a "/"), so the page
    // speaks the bare ZWS2.0: its first message is its routing id (empty), and so is the peer's.
    ws = this._ws = new WebSocket(this.url, ["ZWS2.0"]);
    ws.binaryType = "arraybuffer";
    ws.onopen = function () { self._frame(new Uint8Array(0), 0); };
    ws.onmessage = function (e) { self._received(new Uint8Array(e.data)); };
    ws.onclose = function () { self._lost(); };
  };

  ZmqSocket.prototype._frame = function (body, flags) {
    this._ws.send(concat([new Uint8Array([flags]), body]));
  };

  ZmqSocket.prototype._sendNow = function (frames) {
    for (var i = 0; i < frames.length; i++) {
      this._frame(frames[i], i < frames.length - 1 ? ZMTP_MORE : 0);
    }
  };

  /** send(frames): one message (an array of frames, or one frame). */
  ZmqSocket.prototype.send = function (frames) {
    frames = (Array.isArray(frames) ? frames : [frames]).map(bytes);
    if (this._ready) { this._sendNow(frames); } else { this._queue.push(frames); }
  };

  /** SUB: subscribe(topic) / unsubscribe(topic), as 0x01/0x00 messages (every peer takes them). */
  ZmqSocket.prototype.subscribe = function (topic) {
    this._topics.push(topic);
    this.send([concat([new Uint8Array([1]), bytes(topic)])]);
  };

  ZmqSocket.prototype.unsubscribe = function (topic) {
    this._topics = this._topics.filter(function (t) { return t !== topic; });
    this.send([concat([new Uint8Array([0]), bytes(topic)])]);
  };

  /** REQ: request(frames) -> Promise<frames> (the reply, envelope removed). */
  ZmqSocket.prototype.request = function (frames) {
    var self = this;
    return new Promise(function (resolve, reject) {
      self._requests.push({frames: frames, resolve: resolve, reject: reject});
      if (self._requests.length === 1) { self._nextRequest(); }
    });
  };

  ZmqSocket.prototype._nextRequest = function () {
    var r = this._requests[0];
    if (r) { this.send([new Uint8Array(0)].concat(Array.isArray(r.frames) ? r.frames : [r.frames])); }
  };

  ZmqSocket.prototype._received = function (data) {
    if (!data.length) { this._ws.close(1002); return; }
    var flags = data[0], body = data.subarray(1);
    if (!this._ready) {           // the peer's routing id: the connection is up
      this._ready = true;
      this._delay = MIN_DELAY;
      this.state = "open";
      this._emit("state", this.state);
      var queued = this._queue;
      this._queue = [];
      queued.forEach(this._sendNow, this);
      return;
    }
    if (flags & ZMTP_COMMAND) { return; }   // (PING and such: nothing for the page to do)
    this._frames.push(body);
    if (flags & ZMTP_MORE) { return; }
    var msg = this._frames;
    this._frames = [];
    if (this.type === "REQ") {
      var r = this._requests.shift(), at = 0;
      if (!r) { return; }
      while (at < msg.length && msg[at].length) { at++; }
      r.resolve(msg.slice(at + 1));
      this._nextRequest();
      return;
    }
    this._emit("message", msg);
  };

  ZmqSocket.prototype._lost = function () {
    var self = this;
    this._ready = false;
    this._frames = [];
    if (this.type === "REQ" && this._requests.length) {
      this._requests.shift().reject(new Error("connection lost"));
    }
    if (this._closed) { this.state = "closed"; this._emit("state", this.state); return; }
    this.state = "connecting";
    this._emit("state", this.state);
    var delay = this._delay * (0.75 + Math.random() / 2);
    this._delay = Math.min(this._delay * 2, MAX_DELAY);
    this._retry = setTimeout(function () {
      self._open();
      self._topics.forEach(function (t) { self._queue.push([concat([new Uint8Array([1]), bytes(t)])]); });
      self._nextRequest();
    }, delay);
  };

  ZmqSocket.prototype.close = function () {
    this._closed = true;
    clearTimeout(this._retry);
    if (this._ws) { this._ws.close(1000); }
  };

  root.GzmqBridge = {
    connect: function (prefix, options) { return new Bridge(prefix, options); },
    zmq: function (path, type, options) { return new ZmqSocket(path, type, options); },
    text: function (frame) { return new TextDecoder().decode(frame); },
    Bridge: Bridge,
    ZmqSocket: ZmqSocket,
    version: "1"
  };
})(typeof window !== "undefined" ? window : this);
