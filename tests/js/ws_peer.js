// ws:// peers for tests/interop/test_ws_peers.py: zeromq.js (libzmq 4.3.5's ZWS 2.0 with
// ZWS2.0/NULL) or jszmq (pure JavaScript, the bare ZWS2.0 subprotocol).
//   node ws_peer.js LIB ROLE ENDPOINT bind|connect
// Prints "ready ENDPOINT", then one line per event the test checks, then "done".
const [lib, role, endpoint, how] = process.argv.slice(2);
const say = (...parts) => process.stdout.write(parts.join(" ") + "\n");
const untilStdinEnds = () => new Promise((r) => process.stdin.on("end", r).resume());

// A small uniform face over both libraries: open(type), send(frames), receive() -> frames.
function zeromqjs() {
  const zmq = require("zeromq");
  const types = { REQ: zmq.Request, REP: zmq.Reply, PUB: zmq.Publisher, SUB: zmq.Subscriber,
                  DEALER: zmq.Dealer, ROUTER: zmq.Router, PUSH: zmq.Push, PULL: zmq.Pull };
  return {
    async open(type, options) {
      const sock = new types[type](options);
      if (how === "bind") { await sock.bind(endpoint); say("ready", sock.lastEndpoint); }
      else { sock.connect(endpoint); say("ready", endpoint); }
      return {
        subscribe: (t) => sock.subscribe(t),
        send: (frames) => sock.send(frames),
        receive: async () => (await sock.receive()).map((b) => b.toString()),
        close: () => sock.close(),
      };
    },
  };
}

function jszmq() {
  const zmq = require("jszmq");
  const types = { REQ: zmq.Req, REP: zmq.Rep, PUB: zmq.Pub, SUB: zmq.Sub, DEALER: zmq.Dealer,
                  ROUTER: zmq.Router, PUSH: zmq.Push, PULL: zmq.Pull };
  return {
    async open(type) {
      const sock = new types[type]();
      const inbox = [];
      const waiters = [];
      sock.on("message", (...frames) => {
        const msg = frames.map((b) => b.toString());
        if (waiters.length) waiters.shift()(msg); else inbox.push(msg);
      });
      if (how === "bind") { sock.bind(endpoint); say("ready", endpoint); }
      else { sock.connect(endpoint); say("ready", endpoint); }
      return {
        subscribe: (t) => sock.subscribe(t),
        send: async (frames) => sock.send(frames),
        receive: () => inbox.length ? Promise.resolve(inbox.shift())
                                    : new Promise((r) => waiters.push(r)),
        close: () => sock.close(),
      };
    },
  };
}

const api = lib === "jszmq" ? jszmq() : zeromqjs();

const roles = {
  async rep() {            // echo three requests
    const s = await api.open("REP");
    for (let i = 0; i < 3; i++) {
      const msg = await s.receive();
      say("got", msg.join("|"));
      await s.send(["echo", ...msg]);
    }
    await untilStdinEnds();
    s.close();
  },
  async rep_plain() {      // a PLAIN server (ZWS2.0/PLAIN), with a ZAP handler admitting admin/secret
    const zmq = require("zeromq");
    const zap = new zmq.Router();
    await zap.bind("inproc://zeromq.zap.01");
    (async () => {
      for await (const [id, empty, version, requestId, , , , , user, password] of zap) {
        const ok = user.toString() === "admin" && password.toString() === "secret";
        await zap.send([id, empty, version, requestId, ok ? "200" : "400", ok ? "OK" : "denied",
                        ok ? user : "", ""]);
      }
    })();
    const s = await api.open("REP", { plainServer: true });
    const msg = await s.receive();
    say("got", msg.join("|"));
    await s.send(["welcome"]);
    await untilStdinEnds();
    s.close();
    zap.close();
  },
  async req() {            // three requests, print each reply
    const s = await api.open("REQ");
    for (let i = 0; i < 3; i++) {
      await s.send(["q" + i, "part"]);
      say("reply", (await s.receive()).join("|"));
    }
    s.close();
  },
  async sub() {            // subscribe to "a", print three messages
    const s = await api.open("SUB");
    s.subscribe("a");
    for (let i = 0; i < 3; i++) say("msg", (await s.receive()).join("|"));
    s.close();
  },
  async pub() {            // publish "a n" and "b n" every 10 ms until stdin ends
    const s = await api.open("PUB");
    let stop = false;
    process.stdin.on("end", () => { stop = true; }).resume();
    for (let i = 0; !stop; i++) {
      await s.send(["b", String(i)]);
      await s.send(["a", String(i)]);
      await new Promise((r) => setTimeout(r, 10));
    }
    s.close();
  },
  async dealer() {         // say hello, print the reply (through a ROUTER)
    const s = await api.open("DEALER");
    await s.send(["hello"]);
    say("reply", (await s.receive()).join("|"));
    s.close();
  },
  async router() {         // answer one message, naming the sender's routing id length
    const s = await api.open("ROUTER");
    const [id, ...body] = await s.receive();
    say("got", body.join("|"));
    await s.send([id, "welcome"]);
    await untilStdinEnds();
    s.close();
  },
};

roles[role]().then(() => { say("done"); process.exit(0); },
                   (err) => { say("error", err.message); process.exit(1); });
