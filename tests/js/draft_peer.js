// A zeromq.js (libzmq 4.3.5, draft API) peer for tests/interop/test_draft_zeromqjs.py.
//   node draft_peer.js ROLE ENDPOINT [bind|connect]
// Prints "ready ENDPOINT" once bound or connected, then one line per event the test checks.
// Every role ends by itself (the test also bounds it with a timeout and kills it).
const zmq = require("zeromq");
const draft = require("zeromq/draft");

const [role, endpoint, how = "bind"] = process.argv.slice(2);
const say = (...parts) => process.stdout.write(parts.join(" ") + "\n");

async function open(sock) {
  if (how === "bind") {
    await sock.bind(endpoint);
    // (libzmq reports a bound udp:// endpoint without its scheme)
    const last = sock.lastEndpoint;
    say("ready", last.includes("://") ? last : endpoint);
  } else {
    sock.connect(endpoint);
    say("ready", endpoint);
  }
  return sock;
}

const roles = {
  // SERVER: echo every message to its sender, prefixed, with the routing id it came from.
  async server() {
    const sock = await open(new draft.Server());
    for (let i = 0; i < 3; i++) {
      const [msg, { routingId }] = await sock.receive();
      say("got", msg.toString(), typeof routingId);
      await sock.send("echo:" + msg.toString(), { routingId });
    }
  },
  // CLIENT: one request, print the reply.
  async client() {
    const sock = await open(new draft.Client());
    await sock.send("hello");
    const [reply] = await sock.receive();
    say("reply", reply.toString());
  },
  // DISH: join g1 and g2, print the first three messages of those groups.
  async dish() {
    const sock = new draft.Dish();
    sock.join("g1", "g2");
    await open(sock);
    for (let i = 0; i < 3; i++) {
      const [msg, { group }] = await sock.receive();
      say("msg", group.toString(), msg.toString());
    }
  },
  // RADIO: send to g1 (and to g0, which nobody joins) until stdin closes.
  async radio() {
    const sock = await open(new draft.Radio());
    let stop = false;
    process.stdin.on("end", () => { stop = true; }).resume();
    for (let i = 0; !stop; i++) {
      await sock.send("nobody " + i, { group: "g0" });
      await sock.send("news " + i, { group: "g1" });
      await new Promise((r) => setTimeout(r, 10));
    }
    sock.close();
  },
  // GATHER: print three messages.
  async gather() {
    const sock = await open(new draft.Gather());
    for (let i = 0; i < 3; i++) {
      const [msg] = await sock.receive();
      say("msg", msg.toString());
    }
  },
  // SCATTER: send three messages.
  async scatter() {
    const sock = await open(new draft.Scatter());
    for (let i = 0; i < 3; i++) await sock.send("part " + i);
    say("sent");
    await new Promise((r) => process.stdin.on("end", r).resume());
  },
  // DGRAM: echo each datagram back to where it came from, three times.
  async dgram() {
    const sock = await open(new draft.Datagram());
    for (let i = 0; i < 3; i++) {
      const [addr, body] = await sock.receive();
      say("got", body.toString());
      await sock.send([addr, "echo:" + body.toString()]);
    }
  },
};

roles[role]().then(() => { say("done"); process.exit(0); },
                   (err) => { say("error", err.message); process.exit(1); });
